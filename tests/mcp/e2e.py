#!/usr/bin/env python3
"""End-to-end test of the MCP server at /mcp with the official MCP Python SDK.

Run by scripts/mcp-e2e against the native harness (BASE is its URL). Two users
sign up over REST; each gets a personal access token (POST /api/auth/tokens)
and an SDK client connects with it twice: in the newest revision (mode "auto":
server/discover, then 2026-07-28) and in the legacy initialize handshake
(mode "legacy", 2025-11-25). In each mode the test lists the tools and checks
their schemas and annotations, calls every tool, checks each effect through
the REST API and the other way round, and checks that one user's token never
reaches the other's todos. Lists: Ada shares a list with Bob as a viewer;
list_lists shows it to both with their roles, add_task and list_tasks take it
by name or id, update_task moves a task into it, Bob's writes to it are
refused as a viewer's, and no tool can share a list. The SDK itself validates
every structured result against the tool's outputSchema.

Prints one closing line, `mcp-e2e: N checks passed`, and exits non-zero on
the first failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
import warnings
from typing import Any

import httpx2
from mcp import Client, MCPDeprecationWarning
from mcp.client.streamable_http import streamable_http_client

BASE = os.environ["BASE"].rstrip("/")
MCP_URL = f"{BASE}/mcp"

TOOLS = [
    "list_lists",
    "add_task",
    "list_tasks",
    "get_task",
    "update_task",
    "complete_task",
    "reopen_task",
    "delete_task",
    "task_history",
]
READ_ONLY = {"list_lists", "list_tasks", "get_task", "task_history"}

checks = 0


class Failure(Exception):
    pass


def check(condition: bool, what: str) -> None:
    global checks
    if not condition:
        raise Failure(what)
    checks += 1


def equal(got: Any, want: Any, what: str) -> None:
    check(got == want, f"{what}: got {json.dumps(got, default=str)}, want {json.dumps(want, default=str)}")


# ---------------------------------------------------------------- REST


def rest(method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{BASE}{path}", data=data, method=method)
    if body is not None:
        request.add_header("content-type", "application/json")
    if token is not None:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, (json.loads(raw) if raw else None)


def signup(label: str) -> tuple[str, str]:
    """A new account's session token and email."""
    email = f"{label}-{uuid.uuid4().hex[:10]}@example.com"
    status, body = rest(
        "POST", "/api/auth/signup", body={"email": email, "password": "correct horse battery", "name": label}
    )
    equal(status, 201, f"sign-up of {label}")
    return body["access_token"], email


def agent_token(session_token: str, label: str) -> str:
    """A personal access token for the agent."""
    status, body = rest("POST", "/api/auth/tokens", session_token, {"name": "e2e agent"})
    equal(status, 201, f"personal access token for {label}: {body}")
    token = body["token"]
    check(isinstance(token, str) and token.startswith("todo_pat_"), f"a todo_pat_ token for {label}")
    return token


# ---------------------------------------------------------------- MCP


class Agent:
    """An SDK client connected with one user's token."""

    def __init__(self, token: str, mode: str) -> None:
        self.token = token
        self.mode = mode

    async def __aenter__(self) -> Client:
        self._http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {self.token}"}, timeout=30.0)
        await self._http.__aenter__()
        transport = streamable_http_client(MCP_URL, http_client=self._http)
        self._client = Client(transport, mode=self.mode)
        return await self._client.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._client.__aexit__(*exc)
        finally:
            await self._http.__aexit__(*exc)


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    """A tool's structured result; fails unless the call succeeded."""
    result = await client.call_tool(tool, arguments)
    check(not result.is_error, f"{tool} {arguments} succeeded: {result.content}")
    check(
        len(result.content) == 1 and result.content[0].type == "text" and result.content[0].text != "",
        f"{tool} answers a text summary",
    )
    return result.structured_content


async def call_error(client: Client, tool: str, arguments: dict[str, Any], *words: str) -> str:
    """A failed tool's message; fails unless the call answered isError naming `words`."""
    result = await client.call_tool(tool, arguments)
    check(result.is_error, f"{tool} {arguments} answers isError: {result}")
    text = result.content[0].text
    for word in words:
        check(word in text, f"{tool} {arguments}: {text!r} names {word!r}")
    return text


async def check_tool_list(client: Client, modern: bool) -> None:
    listed = await client.list_tools()
    names = [tool.name for tool in listed.tools]
    equal(names, TOOLS, "tools in a fixed order")
    if modern:
        equal(listed.ttl_ms, 300000, "tools/list ttlMs")
        equal(listed.cache_scope, "public", "tools/list cacheScope")
    for tool in listed.tools:
        equal(tool.input_schema.get("type"), "object", f"{tool.name} inputSchema is an object schema")
        equal(tool.input_schema.get("additionalProperties"), False, f"{tool.name} takes no stray arguments")
        check(tool.output_schema is not None and tool.output_schema.get("type") == "object",
              f"{tool.name} has an object outputSchema")
        check(bool(tool.description) and "Example" in tool.description, f"{tool.name} description has an example")
        a = tool.annotations
        check(a is not None, f"{tool.name} has annotations")
        equal(a.read_only_hint, tool.name in READ_ONLY, f"{tool.name} readOnlyHint")
        equal(a.open_world_hint, False, f"{tool.name} openWorldHint")
        if tool.name not in READ_ONLY:
            equal(a.destructive_hint, tool.name == "delete_task", f"{tool.name} destructiveHint")
            equal(a.idempotent_hint, tool.name != "add_task", f"{tool.name} idempotentHint")
    schemas = {tool.name: tool.input_schema for tool in listed.tools}
    equal(schemas["add_task"]["required"], ["title"], "add_task requires a title")
    equal(schemas["update_task"]["required"], ["id"], "update_task requires an id")
    for name in ("get_task", "complete_task", "reopen_task", "delete_task", "task_history"):
        equal(schemas[name]["required"], ["id"], f"{name} requires an id")
    equal(schemas["list_lists"]["required"], [], "list_lists takes no argument")
    check("list" in schemas["add_task"]["properties"], "add_task takes a list")
    check("list" in schemas["list_tasks"]["properties"], "list_tasks takes a list")
    check("list_id" in schemas["update_task"]["properties"], "update_task takes a list_id")
    for tool in listed.tools:
        # A leaked agent token must never give anyone access to a list.
        check(not any(word in tool.name for word in ("share", "invit", "member")), f"{tool.name} shares nothing")
        check("email" not in json.dumps(tool.input_schema), f"{tool.name} takes no email")
    check(
        {"status", "priority", "tag", "q", "due_before", "due_after", "overdue", "sort", "limit", "cursor"}
        <= set(schemas["list_tasks"]["properties"]),
        "list_tasks takes the REST list's filters",
    )


def share_with(owner_session: str, member_session: str, member_email: str, name: str, role: str) -> str:
    """A list the owner makes over REST and shares with the member, who accepts; its id."""
    status, made = rest("POST", "/api/lists", owner_session, {"name": name})
    equal(status, 201, f"list {name} made over REST")
    status, _ = rest("POST", f"/api/lists/{made['id']}/invitations", owner_session,
                     {"email": member_email, "role": role})
    equal(status, 201, f"{name} shared")
    status, received = rest("GET", "/api/invitations", member_session)
    invitation = next(i for i in received["items"] if i["list"]["id"] == made["id"])
    status, _ = rest("POST", f"/api/invitations/{invitation['id']}/accept", member_session)
    equal(status, 200, f"invitation to {name} accepted")
    return made["id"]


async def exercise_lists(mode: str, ada: Client, bob: Client, ada_session: str, bob_session: str,
                         bob_email: str) -> None:
    name = f"Groceries [{mode}]"
    shop = share_with(ada_session, bob_session, bob_email, name, "viewer")
    lists = (await call(ada, "list_lists", {}))["items"]
    equal(lists[0]["is_inbox"], True, "list_lists shows the Inbox first")
    ours = next(l for l in lists if l["id"] == shop)
    equal((ours["name"], ours["role"], ours["member_count"]), (name, "owner", 2), "Ada owns the shared list")
    status, rest_lists = rest("GET", "/api/lists", ada_session)
    equal(lists, rest_lists["items"], "list_lists answers the REST lists")
    theirs = next(l for l in (await call(bob, "list_lists", {}))["items"] if l["id"] == shop)
    equal(theirs["role"], "viewer", "Bob is a viewer of it")

    # add_task by name (case aside) and by id; list_tasks by either.
    eggs = await call(ada, "add_task", {"title": f"Eggs [{mode}]", "list": name.lower()})
    equal(eggs["list_id"], shop, "add_task puts the task in the list named")
    flour = await call(ada, "add_task", {"title": f"Flour [{mode}]", "list": shop})
    equal(flour["list_id"], shop, "add_task puts the task in the list by id")
    status, over_rest = rest("GET", f"/api/todos?list={shop}", ada_session)
    equal([t["id"] for t in over_rest["items"]], [flour["id"], eggs["id"]], "REST sees them in the list")
    by_name = await call(ada, "list_tasks", {"list": name})
    equal(by_name["items"], over_rest["items"], "list_tasks by name answers the REST list")
    equal((await call(bob, "list_tasks", {"list": shop}))["items"], over_rest["items"], "Bob reads the list")
    # update_task moves a task into it.
    milk = await call(ada, "add_task", {"title": f"Milk [{mode}]"})
    check(milk["list_id"] != shop, "a task without a list goes to the Inbox")
    moved = await call(ada, "update_task", {"id": milk["id"], "list_id": shop})
    equal(moved["list_id"], shop, "update_task moves the task")
    equal(rest("GET", f"/api/todos/{milk['id']}", bob_session)[1], moved, "Bob sees the moved task over REST")
    # No list is made from a name; a viewer's write is refused as such.
    await call_error(ada, "add_task", {"title": "x", "list": f"Holidays [{mode}]"}, "no list called")
    before = rest("GET", f"/api/todos?list={shop}", ada_session)[1]["items"]
    await call_error(bob, "add_task", {"title": "Bob's", "list": shop}, "viewer")
    await call_error(bob, "update_task", {"id": eggs["id"], "title": "Bob was here"}, "viewer")
    await call_error(bob, "complete_task", {"id": eggs["id"]}, "viewer")
    await call_error(bob, "delete_task", {"id": eggs["id"]}, "viewer")
    equal(rest("GET", f"/api/todos?list={shop}", ada_session)[1]["items"], before, "a viewer changed nothing")


async def exercise(mode: str, ada_token: str, ada_session: str, bob_token: str, bob_session: str,
                   bob_email: str) -> None:
    modern = mode != "legacy"
    async with Agent(ada_token, mode) as ada, Agent(bob_token, mode) as bob:
        equal(ada.protocol_version, "2026-07-28" if modern else "2025-11-25", f"{mode}: negotiated version")
        check(ada.server_info is not None and ada.server_info.name == "todo-spin", f"{mode}: server identity")
        check(ada.server_capabilities.tools is not None, f"{mode}: tools capability")
        if not modern:
            with warnings.catch_warnings():
                # The SDK warns that ping is gone in 2026-07-28; this is the legacy exchange.
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                pong = await ada.send_ping()
            # A ping answers an empty result (the SDK raises on an error answer).
            check(type(pong).__name__ == "EmptyResult", f"legacy ping answered: {pong!r}")
        await check_tool_list(ada, modern)

        # add_task → REST
        added = await call(ada, "add_task", {
            "title": f"  Buy milk ({mode}) ", "priority": "HIGH", "due_at": "2026-12-01T18:00:00+01:00",
            "tags": ["Shopping", "shopping"], "description": "2 litres",
        })
        equal(added["title"], f"Buy milk ({mode})", "title trimmed as over REST")
        equal(added["priority"], "high", "priority normalised")
        equal(added["due_at"], "2026-12-01T17:00:00Z", "due time in UTC")
        equal(added["tags"], ["shopping"], "tags lowercased and deduplicated")
        task = added["id"]
        status, over_rest = rest("GET", f"/api/todos/{task}", ada_session)
        equal(status, 200, "REST finds the task add_task made")
        equal(over_rest, added, "REST answers exactly the tool's structured result")

        # REST → list_tasks and get_task
        status, made = rest("POST", "/api/todos", ada_session, {"title": f"Call mum ({mode})", "tags": ["family"]})
        equal(status, 201, "a task made over REST")
        listed = await call(ada, "list_tasks", {"q": f"({mode})"})
        equal(listed["items"], [made, added], "list_tasks sees the REST task, newest first")
        equal(listed["total"], 2, "list_tasks total")
        status, rest_list = rest("GET", f"/api/todos?q=({mode})", ada_session)
        equal(listed["items"], rest_list["items"], "list_tasks answers the REST list")
        filtered = await call(ada, "list_tasks", {"q": f"({mode})", "tag": "family", "status": "open"})
        equal([t["id"] for t in filtered["items"]], [made["id"]], "list_tasks filters by tag and status")
        equal(await call(ada, "get_task", {"id": made["id"]}), made, "get_task answers the REST task")

        # update_task → REST
        updated = await call(ada, "update_task", {"id": task, "priority": "urgent", "due_at": None})
        equal((updated["priority"], updated["due_at"], updated["version"]), ("urgent", None, 2), "update_task")
        equal(rest("GET", f"/api/todos/{task}", ada_session)[1], updated, "REST sees the update")
        # REST → the tools
        status, patched = rest("PATCH", f"/api/todos/{task}", ada_session, {"description": "skimmed"})
        equal(status, 200, "REST patch")
        equal((await call(ada, "get_task", {"id": task}))["description"], "skimmed", "get_task sees a REST patch")

        # complete_task / reopen_task are idempotent in effect
        done = await call(ada, "complete_task", {"id": task})
        equal(done["todo"]["completed"], True, "complete_task completes")
        equal(done["next"], None, "no next occurrence for a one-off task")
        equal(await call(ada, "complete_task", {"id": task}), done, "completing again changes nothing")
        equal(rest("GET", f"/api/todos/{task}", ada_session)[1], done["todo"], "REST sees it done")
        reopened = await call(ada, "reopen_task", {"id": task})
        equal(reopened["todo"]["completed"], False, "reopen_task reopens")
        equal(await call(ada, "reopen_task", {"id": task}), reopened, "reopening again changes nothing")
        weekly = await call(ada, "add_task", {"title": f"Water plants ({mode})", "due_at": "2026-12-01",
                                              "recurrence": "weekly"})
        next_one = (await call(ada, "complete_task", {"id": weekly["id"]}))["next"]
        equal(next_one["due_at"], "2026-12-08T00:00:00Z", "completing a weekly task makes the next one")

        # task_history equals the REST history
        history = await call(ada, "task_history", {"id": task})
        equal(history, rest("GET", f"/api/todos/{task}/history", ada_session)[1], "task_history is the REST history")
        equal([e["action"] for e in history["items"]], ["toggle", "toggle", "update", "update", "create"],
              "the history of the task")

        # delete_task → REST; REST delete → the tools
        equal(await call(ada, "delete_task", {"id": task}), {"id": task, "deleted": True}, "delete_task")
        equal(rest("GET", f"/api/todos/{task}", ada_session)[0], 404, "REST no longer finds it")
        await call_error(ada, "get_task", {"id": task}, "No task with that id")
        equal((await call(ada, "task_history", {"id": task}))["items"][0]["action"], "delete", "history outlives it")
        equal(rest("DELETE", f"/api/todos/{made['id']}", ada_session)[0], 204, "REST delete")
        await call_error(ada, "complete_task", {"id": made["id"]}, "No task with that id")

        # input failures are isError results an agent can act on
        await call_error(ada, "add_task", {"title": ""}, "title", "must not be empty")
        await call_error(ada, "add_task", {"title": "x", "priority": "asap"}, "priority")
        await call_error(ada, "list_tasks", {"limit": 0}, "limit")
        await call_error(ada, "get_task", {"id": "42"}, "list_tasks")

        # isolation: Bob's token never reaches Ada's tasks
        secret = await call(ada, "add_task", {"title": f"Ada's secret ({mode})"})
        for tool, arguments in [
            ("get_task", {"id": secret["id"]}),
            ("update_task", {"id": secret["id"], "title": "Bob was here"}),
            ("complete_task", {"id": secret["id"]}),
            ("reopen_task", {"id": secret["id"]}),
            ("task_history", {"id": secret["id"]}),
            ("delete_task", {"id": secret["id"]}),
        ]:
            text = await call_error(bob, tool, arguments, "No task with that id")
            check("secret" not in text, f"{tool} leaks nothing of Ada's task")
        equal((await call(bob, "list_tasks", {"q": "secret"}))["total"], 0, "Bob's list has none of Ada's")
        bobs = await call(bob, "add_task", {"title": f"Bob's task ({mode})"})
        await call_error(ada, "get_task", {"id": bobs["id"]}, "No task with that id")
        status, body = rest("GET", f"/api/todos/{bobs['id']}", ada_session)
        equal(status, 404, "Ada's session does not reach Bob's task over REST either")
        equal(rest("GET", f"/api/todos/{secret['id']}", ada_session)[1], secret, "Ada's task is untouched")
        equal(rest("GET", f"/api/todos/{bobs['id']}", bob_session)[0], 200, "Bob's task is his")

        await exercise_lists(mode, ada, bob, ada_session, bob_session, bob_email)


async def main() -> int:
    ada_session, _ = signup("ada")
    bob_session, bob_email = signup("bob")
    ada_token = agent_token(ada_session, "ada")
    bob_token = agent_token(bob_session, "bob")
    for mode in ("auto", "legacy"):
        await exercise(mode, ada_token, ada_session, bob_token, bob_session, bob_email)
        print(f"mcp-e2e: {'2026-07-28' if mode == 'auto' else 'legacy 2025-11-25'} mode ok ({checks} checks so far)")
    return 0


if __name__ == "__main__":
    try:
        status = asyncio.run(main())
    except Failure as failure:
        print(f"mcp-e2e: FAILED after {checks} checks: {failure}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:  # the SDK's own errors (schema validation, transport) count as failures
        print(f"mcp-e2e: FAILED after {checks} checks: {type(error).__name__}: {error}", file=sys.stderr)
        raise
    print(f"mcp-e2e: {checks} checks passed")
    sys.exit(status)
