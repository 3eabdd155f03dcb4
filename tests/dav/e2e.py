#!/usr/bin/env python3
"""End-to-end test of the CalDAV server at /dav with the clients people use.

Run by scripts/dav-e2e against the native harness (BASE is its URL, and
DAV_E2E_WORK a scratch folder). Two users sign up over REST and make
personal access tokens (POST /api/auth/tokens); the clients sign in with
HTTP Basic: the account's email and a token.

- caldav (the Python library): discovery from the app's address, the lists
  as calendars, creating, listing, completing, editing and deleting todos,
  each effect checked through the REST API and the other way round, and
  sync tokens (sync-collection) after REST changes and a deletion.
- icalendar: every VTODO served (GET, calendar-query, calendar-multiget,
  sync-collection) parses and has UID, DTSTAMP and SUMMARY; a day stays a
  day (DUE;VALUE=DATE).
- vdirsyncer: one list synced both ways with a folder of .ics files:
  changes, creations, deletions on either side, and a conflict resolved as
  configured ("a wins": the folder).
- todoman on that folder: new, edit, done, then a sync shows them in REST;
  a recurring todo's RRULE survives an edit.
- isolation: another user's calendars are unknown (404), and a read-only
  token cannot write (403).

A failed check ends its section (the next ones still run) and the run exits
non-zero. Prints one closing line, `dav-e2e: N checks passed` (and how many
sections failed, when any did).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

import caldav
import icalendar

BASE = os.environ["BASE"].rstrip("/")
WORK = Path(os.environ.get("DAV_E2E_WORK") or "/tmp") / f"dav-e2e-{uuid.uuid4().hex[:8]}"
BIN = Path(sys.executable).parent

checks = 0
failed_sections: list[str] = []


class Failure(Exception):
    pass


def check(condition: bool, what: str) -> None:
    global checks
    if not condition:
        raise Failure(what)
    checks += 1


def equal(got: Any, want: Any, what: str) -> None:
    check(got == want, f"{what}: got {json.dumps(got, default=str)}, want {json.dumps(want, default=str)}")


def section(name: str, run: Callable[[], None]) -> None:
    """Runs one section; a failure is reported and ends only that section."""
    before = checks
    try:
        run()
    except Failure as failure:
        failed_sections.append(name)
        print(f"dav-e2e: FAILED in {name}: {failure}", file=sys.stderr)
    except Exception:  # a client's own error is a failure of the section too
        failed_sections.append(name)
        print(f"dav-e2e: FAILED in {name} with an error:", file=sys.stderr)
        traceback.print_exc()
    else:
        print(f"dav-e2e: {name}: {checks - before} checks passed")


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


@dataclass
class User:
    label: str
    email: str
    id: str
    session: str
    pat: str
    inbox: str
    other_lists: list[str]

    def rest(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return rest(method, path, self.session, body)

    def token(self, read_only: bool) -> str:
        status, body = self.rest("POST", "/api/auth/tokens", {"name": "CalDAV e2e", "read_only": read_only})
        equal(status, 201, f"personal access token for {self.label}: {body}")
        return body["token"]

    def new_list(self, name: str) -> str:
        status, body = self.rest("POST", "/api/lists", {"name": name})
        equal(status, 201, f"list {name} for {self.label}: {body}")
        if name != "Errands":
            self.other_lists.append(body["id"])
        return body["id"]

    def todos(self, list_id: str) -> dict[str, dict]:
        """The list's todos (open and done), by title."""
        status, body = self.rest("GET", f"/api/todos?list={list_id}&status=all&limit=100")
        equal(status, 200, f"GET /api/todos?list={list_id}: {body}")
        return {t["title"]: t for t in body["items"]}

    def todo(self, list_id: str, title: str) -> dict:
        found = self.todos(list_id)
        check(title in found, f"REST shows {title!r} in the list: it has {sorted(found)}")
        return found[title]

    def create(self, list_id: str, **fields: Any) -> dict:
        status, body = self.rest("POST", "/api/todos", {"list_id": list_id, **fields})
        equal(status, 201, f"REST creates {fields}: {body}")
        return body

    def patch(self, todo_id: str, **fields: Any) -> dict:
        status, body = self.rest("PATCH", f"/api/todos/{todo_id}", fields)
        equal(status, 200, f"REST PATCH {fields}: {body}")
        return body

    def delete(self, todo_id: str) -> None:
        status, body = self.rest("DELETE", f"/api/todos/{todo_id}")
        equal(status, 204, f"REST DELETE: {body}")

    def calendar_path(self, list_id: str) -> str:
        return f"/dav/calendars/{self.id}/{list_id}/"


def signup(label: str) -> User:
    email = f"{label.lower()}-{uuid.uuid4().hex[:10]}@example.com"
    status, body = rest(
        "POST", "/api/auth/signup", body={"email": email, "password": "correct horse battery", "name": label}
    )
    equal(status, 201, f"sign-up of {label}: {body}")
    session = body["access_token"]
    status, lists = rest("GET", "/api/lists", session)
    equal(status, 200, f"lists of {label}")
    inbox = next(item["id"] for item in lists["items"] if item["is_inbox"])
    user = User(label, email, body["user"]["id"], session, "", inbox, [])
    user.pat = user.token(read_only=False)
    check(user.pat.startswith("todo_pat_"), f"a todo_pat_ token for {label}")
    return user


# ---------------------------------------------------------------- raw DAV


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str


def dav(
    method: str, path: str, email: str, token: str, body: str = "", headers: dict[str, str] | None = None
) -> Reply:
    """One CalDAV request with HTTP Basic, answered as it came (no redirects followed)."""
    request = urllib.request.Request(f"{BASE}{path}", data=body.encode() if body else None, method=method)
    basic = base64.b64encode(f"{email}:{token}".encode()).decode()
    request.add_header("authorization", f"Basic {basic}")
    if body:
        ctype = "text/calendar; charset=utf-8" if body.startswith("BEGIN:") else "application/xml; charset=utf-8"
        request.add_header("content-type", ctype)
    for name, value in (headers or {}).items():
        request.add_header(name, value)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            status, raw, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, got = error.code, error.read(), error.headers
    return Reply(status, {k.lower(): v for k, v in got.items()}, raw.decode("utf-8", "replace"))


NS = {"d": "DAV:", "c": "urn:ietf:params:xml:ns:caldav"}

CALENDAR_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VTODO"/></c:comp-filter></c:filter>
</c:calendar-query>"""

SYNC_COLLECTION = """<?xml version="1.0" encoding="utf-8"?>
<d:sync-collection xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
</d:sync-collection>"""


def multistatus(reply: Reply, what: str) -> list[tuple[str, str, str | None]]:
    """(href, status, calendar-data) of each response of a 207 answer."""
    equal(reply.status, 207, f"{what} answers 207 ({reply.text[:300]})")
    root = ET.fromstring(reply.text)
    out = []
    for response in root.findall("d:response", NS):
        href = response.findtext("d:href", "", NS)
        status = response.findtext("d:status", "", NS) or response.findtext("d:propstat/d:status", "", NS)
        data = response.findtext("d:propstat/d:prop/c:calendar-data", None, NS)
        out.append((href, status, data))
    return out


def vtodo_of(text: str, what: str) -> icalendar.Todo:
    """The one VTODO of a calendar object, parsed, with UID, DTSTAMP and SUMMARY."""
    calendar = icalendar.Calendar.from_ical(text)
    todos = [c for c in calendar.walk("VTODO")]
    equal(len(todos), 1, f"{what} holds one VTODO")
    todo = todos[0]
    for name in ("UID", "DTSTAMP", "SUMMARY"):
        check(name in todo, f"{what} has {name}:\n{text}")
    return todo


# ---------------------------------------------------------------- caldav


def client(url: str, email: str, token: str) -> caldav.DAVClient:
    return caldav.DAVClient(url=url, username=email, password=token)


def summary_of(obj: Any) -> str:
    return str(obj.icalendar_component["SUMMARY"])


def discovery_section(ada: User) -> Callable[[], None]:
    """The app's address, as a user types it: caldav asks it (PROPFIND /)
    for the current user's principal."""

    def run() -> None:
        principal = client(BASE + "/", ada.email, ada.pat).principal()
        equal(str(principal.url), f"{BASE}/dav/principals/{ada.id}/", "the principal found from the app's address")
        names = sorted(c.get_display_name() for c in principal.calendars())
        equal(names, ["Groceries", "Inbox"], "the calendars found from the app's address")

    return run


def caldav_section(ada: User, groceries: str) -> Callable[[], None]:
    def run() -> None:
        # The addresses a user gives a client when the app's own is not
        # enough: the well-known one, or the service root.
        for url in (BASE + "/.well-known/caldav", BASE + "/dav/"):
            principal = client(url, ada.email, ada.pat).principal()
            equal(str(principal.url), f"{BASE}/dav/principals/{ada.id}/", f"the principal found from {url}")
        dav_client = client(BASE + "/dav/", ada.email, ada.pat)
        principal = dav_client.principal()
        calendars = principal.calendars()
        names = {c.get_display_name(): str(c.url) for c in calendars}
        equal(sorted(names), ["Groceries", "Inbox"], "the calendars are the lists")
        equal(names["Groceries"], f"{BASE}{ada.calendar_path(groceries)}", "the Groceries calendar's URL")
        equal(names["Inbox"], f"{BASE}{ada.calendar_path(ada.inbox)}", "the Inbox calendar's URL")
        calendar = next(c for c in calendars if c.get_display_name() == "Groceries")

        # Create: a day, a priority; and a time.
        add = getattr(calendar, "add_todo", None) or calendar.save_todo
        milk = add(summary="Buy milk", due=date(2027, 1, 15), priority=1, description="2 litres")
        bread = add(summary="Buy bread", due=datetime(2027, 1, 16, 17, 30, tzinfo=timezone.utc), priority=9)
        cheese = add(summary="Buy cheese")
        shown = ada.todo(groceries, "Buy milk")
        equal(shown["due_at"], "2027-01-15T00:00:00Z", "REST shows caldav's due day")
        equal(shown["due_all_day"], True, "REST shows caldav's due day as a day")
        equal(shown["priority"], "urgent", "REST shows PRIORITY:1 as urgent")
        equal(shown["description"], "2 litres", "REST shows caldav's DESCRIPTION")
        equal(shown["completed"], False, "a new todo is open")
        shown = ada.todo(groceries, "Buy bread")
        equal(shown["due_at"], "2027-01-16T17:30:00Z", "REST shows caldav's due time")
        equal(shown["due_all_day"], False, "a due time is not a day")
        equal(shown["priority"], "low", "REST shows PRIORITY:9 as low")
        equal(ada.todo(groceries, "Buy cheese")["priority"], "medium", "no PRIORITY is medium")

        # List the open ones; complete one.
        get_todos = getattr(calendar, "get_todos", None) or calendar.todos
        equal(sorted(summary_of(t) for t in get_todos()), ["Buy bread", "Buy cheese", "Buy milk"], "todos() lists the open ones")
        milk.complete()
        shown = ada.todo(groceries, "Buy milk")
        equal(shown["completed"], True, "REST shows the todo caldav completed as completed")
        check(shown["completed_at"] is not None, "a completed todo has completed_at")
        equal(sorted(summary_of(t) for t in get_todos()), ["Buy bread", "Buy cheese"], "todos() leaves the completed one out")
        everything = get_todos(include_completed=True)
        equal(
            sorted(summary_of(t) for t in everything),
            ["Buy bread", "Buy cheese", "Buy milk"],
            "todos(include_completed=True) lists it too",
        )
        done = next(t for t in everything if summary_of(t) == "Buy milk")
        equal(str(done.icalendar_component.get("STATUS")), "COMPLETED", "the completed todo's STATUS")
        check("COMPLETED" in done.icalendar_component, "the completed todo has COMPLETED")

        # Delete one.
        cheese_id = ada.todo(groceries, "Buy cheese")["id"]
        cheese.delete()
        check("Buy cheese" not in ada.todos(groceries), "REST no longer shows the todo caldav deleted")
        equal(ada.rest("GET", f"/api/todos/{cheese_id}")[0], 404, "the deleted todo is gone (REST 404)")

        # An edit through REST shows up in caldav's next fetch.
        bread_id = ada.todo(groceries, "Buy bread")["id"]
        ada.patch(bread_id, title="Buy rye bread", priority="high", due_at="2027-02-01", due_all_day=True)
        fetched = {summary_of(t): t for t in get_todos()}
        check("Buy rye bread" in fetched, f"caldav fetches REST's new title: {sorted(fetched)}")
        component = fetched["Buy rye bread"].icalendar_component
        equal(int(component["PRIORITY"]), 3, "caldav fetches REST's priority (high: PRIORITY 3)")
        equal(component["DUE"].dt, date(2027, 2, 1), "caldav fetches REST's due day")
        bread.load()
        equal(summary_of(bread), "Buy rye bread", "reloading caldav's object shows REST's edit")

        # caldav edits what REST made: a change of SUMMARY keeps the rest.
        bread.icalendar_component["SUMMARY"] = "Buy sourdough"
        bread.save()
        shown = ada.todo(groceries, "Buy sourdough")
        equal(shown["id"], bread_id, "caldav's edit changes the same todo")
        equal(shown["priority"], "high", "caldav's edit keeps the priority")

        # Sync tokens: changes after REST's changes and a deletion.
        get_objects = getattr(calendar, "get_objects_by_sync_token", None) or calendar.objects_by_sync_token
        snapshot = get_objects(load_objects=True, disable_fallback=True)
        token = snapshot.sync_token
        check(str(token).startswith("http"), f"a real sync token: {token}")
        equal(len(snapshot), 2, "the first sync has every todo, completed ones too")
        eggs = ada.create(groceries, title="Buy eggs")
        ada.patch(bread_id, title="Buy baguette")
        changes = get_objects(sync_token=token, load_objects=True, disable_fallback=True)
        equal(sorted(summary_of(o) for o in changes), ["Buy baguette", "Buy eggs"], "the sync after REST's changes has them")
        check(changes.sync_token != token, "a new sync token after changes")
        token = changes.sync_token
        ada.delete(eggs["id"])
        changes = get_objects(sync_token=token, load_objects=False, disable_fallback=True)
        equal(len(changes.deleted_urls), 1, f"the sync after a deletion reports one removed: {changes.deleted_urls}")
        equal(len(changes), 1, "and nothing else")
        nothing = get_objects(sync_token=changes.sync_token, disable_fallback=True)
        equal(len(nothing), 0, "nothing changed after the newest token")
        updated, deleted = snapshot.sync()
        equal(sorted(summary_of(o) for o in updated), ["Buy baguette"], "sync() of the first snapshot updates the edit")
        equal(len(deleted), 0, "nothing it held was deleted")
        equal(sorted(summary_of(o) for o in snapshot), ["Buy baguette", "Buy milk"], "the synced snapshot")

    return run


# ---------------------------------------------------------------- icalendar


def icalendar_section(ada: User, groceries: str) -> Callable[[], None]:
    def run() -> None:
        path = ada.calendar_path(groceries)
        ada.create(groceries, title="Day todo", due_at="2027-03-01", due_all_day=True, tags=["home", "errands"])
        ada.create(groceries, title="Timed todo", due_at="2027-03-02T09:15:00Z", recurrence="weekly")
        query = multistatus(dav("REPORT", path, ada.email, ada.pat, CALENDAR_QUERY, {"depth": "1"}), "calendar-query")
        check(len(query) >= 4, f"calendar-query answers every todo: {len(query)}")
        by_summary: dict[str, icalendar.Todo] = {}
        for href, status, data in query:
            check("200" in status, f"{href}: {status}")
            check(data is not None, f"{href} has calendar-data")
            todo = vtodo_of(data, f"calendar-data of {href}")
            by_summary[str(todo["SUMMARY"])] = todo
            got = dav("GET", href, ada.email, ada.pat)
            equal(got.status, 200, f"GET {href}")
            check(got.headers.get("content-type", "").startswith("text/calendar"), f"GET {href} is text/calendar")
            check("etag" in got.headers, f"GET {href} has an ETag")
            equal(str(vtodo_of(got.text, f"GET {href}")["UID"]), str(todo["UID"]), f"GET {href} is the same todo")
            check(got.text.endswith("\r\n") and "\n" not in got.text.replace("\r\n", ""), f"GET {href} has CRLF line ends")
            long = [line for line in got.text.split("\r\n") if len(line.encode()) > 75]
            equal(long, [], f"GET {href} folds lines longer than 75 octets (RFC 5545 3.1)")
        day = by_summary["Day todo"]
        check(type(day["DUE"].dt) is date, f"a due day is a date: {day['DUE'].to_ical()!r}")
        equal(day["DUE"].params.get("VALUE"), "DATE", "a due day is written VALUE=DATE")
        equal(sorted(str(c) for c in day["CATEGORIES"].cats), ["errands", "home"], "tags are CATEGORIES")
        timed = by_summary["Timed todo"]
        check(isinstance(timed["DUE"].dt, datetime), "a due time is a date-time")
        equal(timed["DUE"].dt, datetime(2027, 3, 2, 9, 15, tzinfo=timezone.utc), "the due time in UTC")
        equal(timed["RRULE"].to_ical().decode(), "FREQ=WEEKLY", "a weekly todo has RRULE:FREQ=WEEKLY")
        done = by_summary.get("Buy milk")
        if done is not None:
            equal(str(done["STATUS"]), "COMPLETED", "a completed todo's STATUS")

        # multiget, with absolute URLs as some clients send them.
        hrefs = [href for href, _, _ in query]
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            "<d:prop><d:getetag/><c:calendar-data/></d:prop>"
            + "".join(f"<d:href>{h}</d:href>" for h in hrefs[:1])
            + "".join(f"<d:href>{BASE}{h}</d:href>" for h in hrefs[1:])
            + f"<d:href>{path}missing.ics</d:href></c:calendar-multiget>"
        )
        got = multistatus(dav("REPORT", path, ada.email, ada.pat, body, {"depth": "1"}), "calendar-multiget")
        equal(len(got), len(hrefs) + 1, "multiget answers every href")
        for href, status, data in got:
            if href.endswith("missing.ics"):
                check("404" in status, "a missing href is 404 in multiget")
            else:
                vtodo_of(data or "", f"multiget calendar-data of {href}")

        # sync-collection's calendar-data.
        got = multistatus(
            dav("REPORT", path, ada.email, ada.pat, SYNC_COLLECTION.format(token=""), {"depth": "1"}), "sync-collection"
        )
        check(len(got) >= 4, "the first sync-collection has every todo")
        for href, _, data in got:
            vtodo_of(data or "", f"sync-collection calendar-data of {href}")

        # What a client PUTs with a day comes back a day, and so does REST.
        uid = f"e2e-{uuid.uuid4()}"
        ics = (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//icalendar//EN\r\nBEGIN:VTODO\r\n"
            f"UID:{uid}\r\nDTSTAMP:20261201T100000Z\r\nSUMMARY:Put with a day\r\n"
            "DUE;VALUE=DATE:20270401\r\nX-E2E-KEPT:yes\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
        )
        put = dav("PUT", f"{path}{uid}.ics", ada.email, ada.pat, ics, {"if-none-match": "*"})
        equal(put.status, 201, f"PUT of a new object ({put.text})")
        again = dav("PUT", f"{path}{uid}.ics", ada.email, ada.pat, ics, {"if-none-match": "*"})
        equal(again.status, 412, "If-None-Match: * refuses to overwrite")
        got = dav("GET", f"{path}{uid}.ics", ada.email, ada.pat)
        todo = vtodo_of(got.text, "the PUT object")
        equal(todo["DUE"].to_ical().decode(), "20270401", "the DUE day comes back")
        equal(todo["DUE"].params.get("VALUE"), "DATE", "as VALUE=DATE")
        equal(str(todo.get("X-E2E-KEPT")), "yes", "an unmapped property is kept")
        shown = ada.todo(groceries, "Put with a day")
        equal((shown["due_at"], shown["due_all_day"]), ("2027-04-01T00:00:00Z", True), "REST shows the day")
        ada.patch(shown["id"], title="Put with a day, renamed")
        todo = vtodo_of(dav("GET", f"{path}{uid}.ics", ada.email, ada.pat).text, "the object after a REST edit")
        equal(todo["DUE"].params.get("VALUE"), "DATE", "a REST edit of the title keeps VALUE=DATE")
        equal(str(todo["SUMMARY"]), "Put with a day, renamed", "and shows the new title")
        stale = dav("PUT", f"{path}{uid}.ics", ada.email, ada.pat, ics, {"if-match": got.headers["etag"]})
        equal(stale.status, 412, "If-Match with the ETag from before the REST edit is refused")
        stale = dav("DELETE", f"{path}{uid}.ics", ada.email, ada.pat, headers={"if-match": got.headers["etag"]})
        equal(stale.status, 412, "so is a DELETE with it")
        current = dav("GET", f"{path}{uid}.ics", ada.email, ada.pat).headers["etag"]
        gone = dav("DELETE", f"{path}{uid}.ics", ada.email, ada.pat, headers={"if-match": current})
        equal(gone.status, 204, "a DELETE with the current ETag")

        # What Thunderbird sends: a time in a zone, with its VTIMEZONE; a
        # long summary with commas and a long description, folded.
        uid = f"{uuid.uuid4()}@thunderbird.example"
        title = "Renew the passport, the ID card; and the driving licence at the town hall (Bürgeramt) ☕"
        description = "Bring: two photos, the old passport\nand 60 €; ask about the queue"
        calendar = icalendar.Calendar()
        calendar.add("VERSION", "2.0")
        calendar.add("PRODID", "-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN")
        zone = icalendar.Timezone.from_ical(
            "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n"
            "TZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n"
            "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n"
            "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n"
            "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        )
        calendar.add_component(zone)
        todo = icalendar.Todo()
        todo.add("UID", uid)
        todo.add("DTSTAMP", datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc))
        todo.add("SUMMARY", title)
        todo.add("DESCRIPTION", description)
        due = icalendar.vDDDTypes(datetime(2027, 1, 15, 9, 0))
        due.params["TZID"] = "Europe/Berlin"
        todo.add("DUE", due)
        calendar.add_component(todo)
        name = urllib.parse.quote(f"{uid}.ics")
        put = dav("PUT", f"{path}{name}", ada.email, ada.pat, calendar.to_ical().decode())
        equal(put.status, 201, f"PUT of a Thunderbird todo ({put.text})")
        shown = ada.todo(groceries, title)
        equal(shown["due_at"], "2027-01-15T08:00:00Z", "09:00 in Berlin is 08:00 UTC")
        equal(shown["description"], description, "the description's commas, semicolon and line break")
        got = dav("GET", f"{path}{name}", ada.email, ada.pat)
        served = vtodo_of(got.text, "the Thunderbird todo")
        equal(str(served["SUMMARY"]), title, "the long summary comes back whole")
        equal(str(served["DESCRIPTION"]), description, "and the description")
        equal(served["DUE"].dt.astimezone(timezone.utc), datetime(2027, 1, 15, 8, 0, tzinfo=timezone.utc), "and the due time")
        long = [line for line in got.text.split("\r\n") if len(line.encode()) > 75]
        equal(long, [], "the served object folds its long lines")
        listed = [h for h, _, _ in multistatus(dav("PROPFIND", path, ada.email, ada.pat, headers={"depth": "1"}), "PROPFIND")]
        check(any(urllib.parse.unquote(h).endswith(f"/{uid}.ics") for h in listed), f"PROPFIND lists {uid}.ics: {listed}")

    return run


# ---------------------------------------------------------------- vdirsyncer and todoman


class Folder:
    """A list synced by vdirsyncer with a folder, which todoman works on."""

    def __init__(self, user: User, list_id: str) -> None:
        self.user = user
        self.list_id = list_id
        self.root = WORK / "vdirsyncer"
        self.calendars = self.root / "calendars"
        self.path = self.calendars / "errands"
        self.config = self.root / "config"
        self.todoman_config = WORK / "todoman" / "config.py"
        self.path.mkdir(parents=True, exist_ok=True)
        (self.root / "status").mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            f"""[general]
status_path = "{self.root / 'status'}/"

[pair errands]
a = "errands_local"
b = "errands_remote"
collections = null
conflict_resolution = "a wins"

[storage errands_local]
type = "filesystem"
path = "{self.path}/"
fileext = ".ics"

[storage errands_remote]
type = "caldav"
url = "{BASE}{user.calendar_path(list_id)}"
username = "{user.email}"
password = "{user.pat}"
item_types = ["VTODO"]

[pair account]
a = "account_local"
b = "account_remote"
collections = ["from b"]

[storage account_local]
type = "filesystem"
path = "{self.root / 'account'}/"
fileext = ".ics"

[storage account_remote]
type = "caldav"
url = "{BASE}/"
username = "{user.email}"
password = "{user.pat}"
"""
        )
        self.todoman_config.parent.mkdir(parents=True, exist_ok=True)
        self.todoman_config.write_text(
            f"""path = "{self.calendars}/*"
date_format = "%Y-%m-%d"
time_format = "%H:%M"
default_list = "errands"
default_due = 0
cache_path = "{WORK / 'todoman' / 'cache.sqlite3'}"
"""
        )

    def run(self, *args: str, what: str, stdin: str | None = None) -> str:
        env = dict(os.environ, VDIRSYNCER_CONFIG=str(self.config), TZ="UTC", LC_ALL="C.UTF-8", LANG="C.UTF-8")
        done = subprocess.run(
            list(args), env=env, input=stdin or "", capture_output=True, text=True, timeout=120
        )
        check(done.returncode == 0, f"{what} ({' '.join(args)}) exits 0:\n{done.stdout}\n{done.stderr}")
        return done.stdout + done.stderr

    def vdirsyncer(self, *args: str) -> str:
        # `discover` asks before it makes a local folder for each calendar.
        return self.run(str(BIN / "vdirsyncer"), *args, what=f"vdirsyncer {' '.join(args)}", stdin="y\n" * 20)

    def sync(self) -> str:
        return self.vdirsyncer("sync", "errands")

    def todo(self, *args: str) -> str:
        return self.run(str(BIN / "todo"), "--config", str(self.todoman_config), *args, what=f"todo {' '.join(args)}")

    def files(self) -> dict[str, icalendar.Todo]:
        """The folder's todos by SUMMARY."""
        out = {}
        for path in sorted(self.path.glob("*.ics")):
            todo = vtodo_of(path.read_text(), f"the file {path.name}")
            out[str(todo["SUMMARY"])] = todo
        return out

    def file_of(self, summary: str) -> Path:
        for path in self.path.glob("*.ics"):
            calendar = icalendar.Calendar.from_ical(path.read_text())
            if any(str(t.get("SUMMARY")) == summary for t in calendar.walk("VTODO")):
                return path
        raise Failure(f"no file with SUMMARY {summary!r} in {self.path}")

    def edit_file(self, summary: str, **props: Any) -> Path:
        """Changes properties of a file's VTODO as an editor would."""
        path = self.file_of(summary)
        calendar = icalendar.Calendar.from_ical(path.read_text())
        todo = next(iter(calendar.walk("VTODO")))
        for name, value in props.items():
            if name in todo:
                del todo[name]
            todo.add(name, value)
        if "LAST-MODIFIED" in todo:
            del todo["LAST-MODIFIED"]
        todo.add("LAST-MODIFIED", datetime.now(timezone.utc))
        # A new modification time even within the same clock tick.
        time.sleep(0.01)
        path.write_bytes(calendar.to_ical())
        return path


def new_file(folder: Folder, summary: str, uid: str | None = None, **props: Any) -> Path:
    uid = uid or f"local-{uuid.uuid4()}"
    calendar = icalendar.Calendar()
    calendar.add("VERSION", "2.0")
    calendar.add("PRODID", "-//e2e//local//EN")
    todo = icalendar.Todo()
    todo.add("UID", uid)
    todo.add("DTSTAMP", datetime.now(timezone.utc))
    todo.add("SUMMARY", summary)
    for name, value in props.items():
        todo.add(name, value)
    calendar.add_component(todo)
    path = folder.path / f"{uid}.ics"
    path.write_bytes(calendar.to_ical())
    return path


def vdirsyncer_section(ada: User, errands: str, folder: Folder) -> Callable[[], None]:
    def run() -> None:
        stamps = ada.create(errands, title="Buy stamps", priority="high", due_at="2027-05-01", due_all_day=True)
        post = ada.create(errands, title="Post the letter")
        bank = ada.create(errands, title="Go to the bank")
        folder.vdirsyncer("discover", "errands")
        folder.sync()
        files = folder.files()
        equal(sorted(files), ["Buy stamps", "Go to the bank", "Post the letter"], "the first sync brings every todo")
        equal(files["Buy stamps"]["DUE"].params.get("VALUE"), "DATE", "the file has the day as VALUE=DATE")
        equal(int(files["Buy stamps"]["PRIORITY"]), 3, "the file has the priority")

        # Local changes and a new file go up.
        folder.edit_file("Post the letter", SUMMARY="Post the parcel", PRIORITY=1)
        new_file(folder, "Water the plants", DUE=date(2027, 5, 3), PRIORITY=9)
        folder.sync()
        shown = ada.todos(errands)
        check("Post the parcel" in shown, f"REST shows the local edit: {sorted(shown)}")
        equal(shown["Post the parcel"]["id"], post["id"], "the local edit changed the same todo")
        equal(shown["Post the parcel"]["priority"], "urgent", "REST shows the local priority")
        check("Water the plants" in shown, "REST shows the local new file")
        equal(
            (shown["Water the plants"]["due_at"], shown["Water the plants"]["due_all_day"], shown["Water the plants"]["priority"]),
            ("2027-05-03T00:00:00Z", True, "low"),
            "REST shows the new file's day and priority",
        )

        # A UID with an @ (as Thunderbird and Evolution make them) and a
        # summary beyond ASCII; completing a todo in the folder and in the app.
        new_file(folder, "Café ☕ for the neighbours", uid=f"{uuid.uuid4()}@evolution.example")
        folder.edit_file(
            "Water the plants", STATUS="COMPLETED", COMPLETED=datetime.now(timezone.utc), **{"PERCENT-COMPLETE": 100}
        )
        folder.sync()
        shown = ada.todos(errands)
        check("Café ☕ for the neighbours" in shown, f"REST shows the file whose UID has an @: {sorted(shown)}")
        equal(shown["Water the plants"]["completed"], True, "a todo completed in the folder is completed on the server")
        equal(ada.rest("POST", f"/api/todos/{shown['Water the plants']['id']}/toggle")[0], 200, "REST reopens it")
        equal(ada.rest("POST", f"/api/todos/{post['id']}/toggle")[0], 200, "REST completes another")
        folder.sync()
        files = folder.files()
        check("COMPLETED" not in files["Water the plants"], "reopened in the app, the file loses COMPLETED")
        check(str(files["Water the plants"].get("STATUS", "NEEDS-ACTION")) != "COMPLETED", "and STATUS:COMPLETED")
        equal(str(files["Post the parcel"].get("STATUS")), "COMPLETED", "completed in the app, the file is COMPLETED")
        check("COMPLETED" in files["Post the parcel"], "and has COMPLETED")
        equal(ada.rest("POST", f"/api/todos/{post['id']}/toggle")[0], 200, "REST reopens it again")
        folder.file_of("Café ☕ for the neighbours").unlink()
        folder.sync()
        check("Café ☕ for the neighbours" not in ada.todos(errands), "the file whose UID has an @ is deleted on the server")

        # A server change comes down.
        ada.patch(stamps["id"], title="Buy 10 stamps", description="first class")
        folder.sync()
        files = folder.files()
        check("Buy 10 stamps" in files and "Buy stamps" not in files, f"the server's edit reaches the file: {sorted(files)}")
        equal(str(files["Buy 10 stamps"]["DESCRIPTION"]), "first class", "with its description")
        equal(files["Buy 10 stamps"]["DUE"].params.get("VALUE"), "DATE", "and the day still VALUE=DATE")

        # A conflict: both sides change the same todo; "a wins" (the folder).
        folder.edit_file("Go to the bank", SUMMARY="Go to the bank (local)")
        ada.patch(bank["id"], title="Go to the bank (server)")
        folder.sync()
        equal(ada.rest("GET", f"/api/todos/{bank['id']}")[1]["title"], "Go to the bank (local)", "the conflict: the folder wins on the server")
        files = folder.files()
        check("Go to the bank (local)" in files and "Go to the bank (server)" not in files, f"and in the folder: {sorted(files)}")
        folder.sync()
        equal(ada.rest("GET", f"/api/todos/{bank['id']}")[1]["title"], "Go to the bank (local)", "a second sync changes nothing")

        # Deletions on either side.
        folder.file_of("Go to the bank (local)").unlink()
        folder.sync()
        equal(ada.rest("GET", f"/api/todos/{bank['id']}")[0], 404, "a file deleted locally is deleted on the server")
        ada.delete(stamps["id"])
        folder.sync()
        files = folder.files()
        equal(sorted(files), ["Post the parcel", "Water the plants"], "a todo deleted on the server leaves the folder")

        # Nothing changed, nothing moves: what the server answers for what
        # a client stored keeps its ETag, so a sync neither downloads nor
        # uploads again.
        before_files = {p.name: p.stat().st_mtime_ns for p in folder.path.glob("*.ics")}
        before_rest = {t["id"]: t["version"] for t in ada.todos(errands).values()}
        folder.sync()
        equal({p.name: p.stat().st_mtime_ns for p in folder.path.glob("*.ics")}, before_files, "a sync without changes rewrites no file")
        equal({t["id"]: t["version"] for t in ada.todos(errands).values()}, before_rest, "and changes no todo on the server")

        # The whole account from the app's address: every list a calendar.
        out = folder.vdirsyncer("discover", "account")
        account = folder.root / "account"
        found = sorted(p.name for p in account.iterdir() if p.is_dir())
        equal(found, sorted([ada.inbox, errands] + ada.other_lists), f"vdirsyncer discovers every list from {BASE}/:\n{out}")
        folder.vdirsyncer("sync", "account")
        synced = sorted(
            str(vtodo_of(p.read_text(), p.name)["SUMMARY"]) for p in (account / errands).glob("*.ics")
        )
        equal(synced, sorted(files), "the account's copy of Errands has its todos")

    return run


def todoman_section(ada: User, errands: str, folder: Folder) -> Callable[[], None]:
    def run() -> None:
        folder.todo("new", "-l", "errands", "--due", "2027-06-01", "--priority", "high", "Call the plumber")
        folder.todo("new", "-l", "errands", "--due", "2027-06-02 14:30", "Book the dentist")
        listed = json.loads(folder.todo("--porcelain", "list", "--status", "ANY"))
        ids = {t["summary"]: t["id"] for t in listed}
        check({"Call the plumber", "Book the dentist", "Post the parcel"} <= set(ids), f"todoman lists the folder: {sorted(ids)}")
        folder.todo("edit", str(ids["Book the dentist"]), "--priority", "low", "--due", "2027-06-03 09:00")
        folder.todo("done", str(ids["Post the parcel"]))
        folder.sync()
        shown = ada.todos(errands)
        check("Call the plumber" in shown, f"REST shows todoman's new todo: {sorted(shown)}")
        plumber = shown["Call the plumber"]
        equal((plumber["due_at"], plumber["due_all_day"]), ("2027-06-01T00:00:00Z", True), "todoman's due day")
        equal(plumber["priority"], "high", "todoman's priority high")
        dentist = shown["Book the dentist"]
        equal((dentist["due_at"], dentist["due_all_day"]), ("2027-06-03T09:00:00Z", False), "todoman's edited due time")
        equal(dentist["priority"], "low", "todoman's edited priority")
        equal(shown["Post the parcel"]["completed"], True, "todoman's done completes it on the server")

        # todoman has no flag for a recurrence: a weekly todo made in the
        # app keeps its RRULE through todoman's edit.
        weekly = ada.create(errands, title="Take out the bins", recurrence="weekly", due_at="2027-06-07", due_all_day=True)
        folder.sync()
        equal(folder.files()["Take out the bins"]["RRULE"].to_ical().decode(), "FREQ=WEEKLY", "the file has the RRULE")
        listed = json.loads(folder.todo("--porcelain", "list", "--status", "ANY"))
        bins = next(t["id"] for t in listed if t["summary"] == "Take out the bins")
        folder.todo("edit", str(bins), "--priority", "high")
        folder.sync()
        shown = ada.rest("GET", f"/api/todos/{weekly['id']}")[1]
        equal((shown["recurrence"], shown["priority"]), ("weekly", "high"), "the server keeps the recurrence after todoman's edit")
        path = ada.calendar_path(errands)
        served = [
            vtodo_of(data or "", href)
            for href, _, data in multistatus(dav("REPORT", path, ada.email, ada.pat, CALENDAR_QUERY, {"depth": "1"}), "query")
        ]
        bins = next(t for t in served if str(t["SUMMARY"]) == "Take out the bins")
        equal(bins["RRULE"].to_ical().decode(), "FREQ=WEEKLY", "and serves the RRULE")

    return run


# ---------------------------------------------------------------- isolation


def isolation_section(ada: User, bob: User, groceries: str) -> Callable[[], None]:
    def run() -> None:
        home = f"/dav/calendars/{ada.id}/"
        for path in (home, f"/dav/principals/{ada.id}/", ada.calendar_path(groceries)):
            got = dav("PROPFIND", path, bob.email, bob.pat, headers={"depth": "0"})
            equal(got.status, 404, f"Bob's PROPFIND of Ada's {path}")
        got = dav("REPORT", ada.calendar_path(groceries), bob.email, bob.pat, CALENDAR_QUERY, {"depth": "1"})
        equal(got.status, 404, "Bob's calendar-query of Ada's list")
        query = multistatus(dav("REPORT", ada.calendar_path(groceries), ada.email, ada.pat, CALENDAR_QUERY, {"depth": "1"}), "Ada's query")
        href = query[0][0]
        equal(dav("GET", href, bob.email, bob.pat).status, 404, "Bob's GET of Ada's todo")
        equal(dav("DELETE", href, bob.email, bob.pat).status, 404, "Bob's DELETE of Ada's todo")
        equal(dav("PROPFIND", href, ada.email, bob.pat).status, 401, "Ada's email with Bob's token")
        bob_calendars = client(BASE + "/dav/", bob.email, bob.pat).principal().calendars()
        equal([c.get_display_name() for c in bob_calendars], ["Inbox"], "Bob's caldav sees only his own Inbox")
        equal(str(bob_calendars[0].url), f"{BASE}{bob.calendar_path(bob.inbox)}", "Bob's Inbox is under his own home")

        # A read-only token reads and never writes.
        viewer = ada.token(read_only=True)
        got = dav("PROPFIND", ada.calendar_path(groceries), ada.email, viewer, headers={"depth": "1"})
        equal(got.status, 207, "a read-only token may PROPFIND")
        equal(dav("GET", href, ada.email, viewer).status, 200, "a read-only token may GET")
        ics = (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//ro//EN\r\nBEGIN:VTODO\r\nUID:read-only-1\r\n"
            "DTSTAMP:20261201T100000Z\r\nSUMMARY:Not allowed\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
        )
        put = dav("PUT", f"{ada.calendar_path(groceries)}read-only-1.ics", ada.email, viewer, ics)
        equal(put.status, 403, f"a read-only token's PUT is refused ({put.text})")
        equal(dav("DELETE", href, ada.email, viewer).status, 403, "a read-only token's DELETE is refused")
        check("Not allowed" not in ada.todos(groceries), "nothing was stored")
        calendar = next(
            c for c in client(BASE + "/dav/", ada.email, viewer).principal().calendars() if c.get_display_name() == "Groceries"
        )
        add = getattr(calendar, "add_todo", None) or calendar.save_todo
        try:
            add(summary="Not allowed either")
            refused = False
        except caldav.lib.error.AuthorizationError:
            refused = True
        check(refused, "caldav's add_todo with a read-only token fails (403: AuthorizationError)")
        check("Not allowed either" not in ada.todos(groceries), "nothing was stored")

    return run


def main() -> int:
    try:
        ada = signup("Ada")
        bob = signup("Bob")
        groceries = ada.new_list("Groceries")
    except Failure as failure:
        print(f"dav-e2e: FAILED to set up: {failure}", file=sys.stderr)
        return 1
    section("caldav discovery from the app's address", discovery_section(ada))
    section("caldav", caldav_section(ada, groceries))
    section("icalendar", icalendar_section(ada, groceries))
    errands = ada.new_list("Errands")
    folder = Folder(ada, errands)
    section("vdirsyncer", vdirsyncer_section(ada, errands, folder))
    section("todoman", todoman_section(ada, errands, folder))
    section("isolation", isolation_section(ada, bob, groceries))
    if failed_sections:
        print(f"dav-e2e: {checks} checks passed; failed: {', '.join(failed_sections)}")
        return 1
    print(f"dav-e2e: {checks} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
