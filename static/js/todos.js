// The todo list: loading with the filters of the URL (the list shown is one
// of them, `?list=`), rendering, adding, inline editing, assigning,
// toggling, deleting with Undo, and staying in step with other tabs and the
// other members of a list through the delta sync
// (`GET /api/todos?since=<sync_token>`), long-polled (`&wait=`) while the
// tab is visible. A list the caller only views shows no controls.

import { api, ApiError, describe, setConnectionHandler, loadSession } from './api.js';
import { $, h, icon, toast, showFieldErrors, clearFieldErrors, clearErrorOnInput, busy, showBanner, hideBanner, announce } from './ui.js';
import { toDueAt, fromDueAt, dueState, formatDue, formatLong } from './dates.js';
import { describeRecurrence, repeatTitle } from './recurrence.js';
import { showReminders } from './reminders.js';
import { restAfter } from './backoff.js';
import {
  listById, canEditList, memberOf, membersOf, wantMembers, applyListChanges, setSelected, myId,
} from './lists.js';
import { initials } from './people.js';

const DEFAULTS = { list: '', status: 'all', assignee: '', priority: '', tag: '', q: '', sort: '-created_at' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE = 100;
const UNDO_MS = 6000;
/** How long one long-poll may wait for a change (the API's longest). */
const WAIT_S = 25;
const OFFLINE = "Can't reach the server. Showing what was last loaded; we'll keep trying.";
const RANK = { urgent: 0, high: 1, medium: 2, low: 3 };
const PRIORITY_WORDS = { urgent: 'Urgent', high: 'High', medium: 'Medium', low: 'Low' };
/** The edit form's repeat choices; a custom rule joins them as an option of its own. */
const REPEAT_CHOICES = [['none', 'Never'], ['daily', 'Daily'], ['weekly', 'Weekly'], ['monthly', 'Monthly']];

const state = {
  filters: { ...DEFAULTS },
  todos: new Map(),
  nextCursor: null,
  syncToken: null,
  stats: null,
  knownTags: new Set(),
  pendingDeletes: new Map(),
  clearing: null,
  editing: null,
  loaded: false,
  generation: 0,
  syncing: null,
  live: null,
};

// ------------------------------------------------------------------ filters

export function readFilters() {
  const params = new URLSearchParams(location.search);
  const f = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    const value = params.get(key);
    if (value !== null) f[key] = value;
  }
  if (!['all', 'open', 'done'].includes(f.status)) f.status = 'all';
  if (!['', 'me', 'none'].includes(f.assignee) && !UUID.test(f.assignee)) f.assignee = '';
  if (f.list && !UUID.test(f.list)) f.list = '';
  state.filters = f;
  setSelected(f.list);
  syncControls();
}

function writeFilters(push) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state.filters)) {
    if (value && value !== DEFAULTS[key]) params.set(key, value);
  }
  const query = params.toString();
  const url = `/${query ? `?${query}` : ''}`;
  if (url !== location.pathname + location.search) {
    history[push ? 'pushState' : 'replaceState'](null, '', url);
  }
}

function syncControls() {
  const f = state.filters;
  $('#search').value = f.q;
  for (const radio of document.querySelectorAll('input[name="status"]')) radio.checked = radio.value === f.status;
  setSelect($('#assignee-filter'), f.assignee);
  setSelect($('#priority-filter'), f.priority);
  renderTagOptions();
  setSelect($('#sort'), f.sort);
}

function setSelect(select, value) {
  if (![...select.options].some((o) => o.value === value)) {
    select.append(h('option', { value }, value));
  }
  select.value = value;
}

function setFilter(changes, push = true) {
  Object.assign(state.filters, changes);
  writeFilters(push);
  setSelected(state.filters.list);
  syncControls();
  loadList();
}

/** Shows one list ('' for all of them): the sidebar's links. */
export function selectList(id, push = true) {
  if (id === state.filters.list) {
    setSelected(id);
    return;
  }
  state.editing = null;
  setFilter({ list: id }, push);
}

/** The lists changed (names, roles, members): the todos show them as they are now. */
export function refreshView() {
  if (!state.loaded) return;
  render();
  renderStats();
}

function filtersActive() {
  const f = state.filters;
  return f.status !== 'all' || f.assignee || f.priority || f.tag || f.q;
}

// ------------------------------------------------------------------ loading

function listQuery(cursor) {
  const f = state.filters;
  const params = new URLSearchParams({ limit: String(PAGE), sort: f.sort });
  if (f.list) params.set('list', f.list);
  if (f.assignee) params.set('assignee', f.assignee);
  if (f.status !== 'all') params.set('status', f.status);
  if (f.priority) params.set('priority', f.priority);
  if (f.tag) params.set('tag', f.tag);
  if (f.q.trim()) params.set('q', f.q.trim());
  if (cursor) params.set('cursor', cursor);
  return `/api/todos?${params}`;
}

export async function loadList() {
  const generation = ++state.generation;
  $('#list-wrap').setAttribute('aria-busy', 'true');
  try {
    const page = await api('GET', listQuery());
    if (generation !== state.generation) return;
    state.todos = new Map(page.items.map((t) => [t.id, t]));
    state.nextCursor = page.next_cursor;
    state.syncToken = page.sync_token;
    state.loaded = true;
    hideBanner();
    render();
    loadStats();
    state.live?.ready();
  } catch (error) {
    if (generation !== state.generation) return;
    if (error instanceof ApiError && error.status === 422 && error.fields) {
      // A hand-edited URL with a filter the API refuses: back to the defaults.
      toast(`Some filters in the address were not valid and were reset. ${describe(error)}`, { kind: 'error' });
      state.filters = { ...DEFAULTS };
      writeFilters(false);
      syncControls();
      loadList();
      return;
    }
    if (error.status === 401) return;
    if (error.status === 404 && state.filters.list) {
      // A list left, deleted or never shared with this user.
      toast('That list is not available to you. It may have been deleted, or you were removed from it.', { kind: 'error' });
      selectList('', false);
      return;
    }
    state.loaded = true;
    render(describe(error));
  } finally {
    if (generation === state.generation) $('#list-wrap').setAttribute('aria-busy', 'false');
  }
}

async function loadMore() {
  if (!state.nextCursor) return;
  const generation = state.generation;
  try {
    const page = await busy($('#load-more'), api('GET', listQuery(state.nextCursor)));
    if (generation !== state.generation) return;
    for (const t of page.items) state.todos.set(t.id, t);
    state.nextCursor = page.next_cursor;
    render();
  } catch (error) {
    if (error.status !== 401) toast(describe(error), { kind: 'error' });
  }
}

export async function loadStats() {
  const list = state.filters.list;
  try {
    const stats = await api('GET', list ? `/api/todos/stats?list=${encodeURIComponent(list)}` : '/api/todos/stats');
    // An answer for a list no longer shown is dropped: the newer request paints.
    if (list !== state.filters.list) return;
    state.stats = stats;
    renderStats();
    renderTagOptions();
    renderFooter();
    if (state.loaded) renderEmpty();
  } catch {
    // The list shows the failure; the counts keep their last values.
  }
}

/**
 * Every change since the last sync token, a page at a time, applied in place
 * (no reload). With `wait`, the first request is a long-poll: it answers as
 * soon as something changes, or with nothing after `wait` seconds.
 */
async function pull({ wait, signal } = {}) {
  let changed = false;
  for (let pages = 0; pages < 20; pages++) {
    const token = state.syncToken;
    const longPoll = wait && pages === 0 ? `&wait=${wait}` : '';
    const feed = await api('GET', `/api/todos?since=${encodeURIComponent(token)}&limit=${PAGE}${longPoll}`, { signal });
    if (token !== state.syncToken) break; // the list was reloaded meanwhile
    changed = applyChanges(feed.items, feed.deleted, false) || changed;
    changed = applyListChanges(feed.lists, feed.removed_lists) || changed;
    showReminders(feed.reminders);
    state.syncToken = feed.sync_token;
    if (!feed.has_more) break;
  }
  hideBanner();
  if (changed) {
    render();
    loadStats();
  }
}

/** Syncs now (after a change made here, say), beside the long-poll. */
export function sync() {
  if (!state.syncToken || state.syncing) return state.syncing;
  state.syncing = (async () => {
    try {
      await pull();
    } catch (error) {
      if (error.status === 422) loadList();
      else if (error.network || error.status >= 500) showBanner(OFFLINE);
    } finally {
      state.syncing = null;
    }
  })();
  return state.syncing;
}

/** Puts changed todos in and takes deleted ones out; answers whether anything changed. */
export function applyChanges(items = [], deleted = [], rerender = true) {
  let changed = false;
  for (const todo of items) {
    const known = state.todos.get(todo.id);
    if (!known || known.version < todo.version || known.updated_at !== todo.updated_at) {
      state.todos.set(todo.id, todo);
      changed = true;
    }
  }
  for (const id of deleted) changed = state.todos.delete(id) || changed;
  if (changed && rerender) {
    render();
    loadStats();
  }
  return changed;
}

// Live updates: one long-poll in flight at a time, sent again as soon as
// one answers, so a change made elsewhere shows here within a second. A
// hidden tab lets go of its long-poll and sends none: each one holds a
// server instance for up to 25 s and, over HTTP/1.1, one of the browser's
// six connections to the app, which a few background tabs would use up. It
// syncs at once when shown again. The exception is a user who allowed
// browser notifications: their hidden tabs keep listening, since that is
// when a reminder's notification matters.

function listening() {
  const notified = 'Notification' in window && Notification.permission === 'granted';
  return document.visibilityState === 'visible' || notified;
}

/** The loop of one signed-in session; `stopSync` ends it. */
function startLive() {
  let resume = () => {};
  let idle = false;
  const live = {
    controller: null,
    /** Whether it rests after failing to reach the server. */
    offline: false,
    /** Waits `ms`, or without `ms` until there is something to follow; or until woken. */
    rest(ms) {
      idle = ms === undefined;
      return new Promise((resolve) => {
        const timer = idle ? null : setTimeout(resolve, ms);
        resume = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
    /** Ends any rest now: shown again, back online, the server answers again. */
    wake() {
      resume();
    },
    /** Ends a rest for want of a token (not a back-off): the list has loaded. */
    ready() {
      if (idle) resume();
    },
    stop() {
      live.controller?.abort();
      resume();
    },
  };
  state.live = live;
  follow(live);
}

async function follow(live) {
  let delay = 0;
  while (state.live === live) {
    if (!listening() || !state.syncToken) {
      await live.rest();
      continue;
    }
    try {
      live.controller = new AbortController();
      await pull({ wait: WAIT_S, signal: live.controller.signal });
      delay = 0;
    } catch (error) {
      if (state.live !== live || error.code === 'aborted') continue;
      live.offline = error.network || error.status >= 500;
      if (live.offline) showBanner(OFFLINE);
      // A refused token: a fresh list brings a fresh one.
      if (error.status === 422) loadList();
      // 429: the account's long-polls are all open (other tabs, other
      // devices); this tab waits as long as the server says, then tries again.
      delay = restAfter(error, delay);
      await live.rest(delay);
      live.offline = false;
    }
  }
}

function onVisibility() {
  if (document.visibilityState === 'visible') state.live?.wake();
  else if (!listening()) state.live?.controller?.abort();
}

function onWake() {
  state.live?.wake();
}

export function startSync() {
  stopSync();
  startLive();
  document.addEventListener('visibilitychange', onVisibility);
  window.addEventListener('focus', onWake);
  window.addEventListener('online', onWake);
}

export function stopSync() {
  state.live?.stop();
  state.live = null;
  document.removeEventListener('visibilitychange', onVisibility);
  window.removeEventListener('focus', onWake);
  window.removeEventListener('online', onWake);
}

// Any call that reaches the server (or fails to) says whether it can be
// reached: the banner follows, and a long-poll resting after a failure
// tries again at once.
setConnectionHandler((reachable) => {
  if (!state.live) return;
  if (reachable) {
    hideBanner();
    if (state.live.offline) state.live.wake();
  } else {
    showBanner(OFFLINE);
  }
});

/** Forgets everything of the signed-out user. */
export function reset() {
  stopSync();
  flushDeletes();
  state.todos = new Map();
  state.syncToken = null;
  state.stats = null;
  state.knownTags = new Set();
  state.loaded = false;
  state.editing = null;
  state.generation++;
  $('#todo-list').replaceChildren();
  $('#stats').replaceChildren();
}

// ------------------------------------------------------------------ matching

function matches(todo) {
  const f = state.filters;
  if (state.pendingDeletes.has(todo.id)) return false;
  if (f.list && todo.list_id !== f.list) return false;
  if (state.clearing && todo.completed && (!state.clearing.list || todo.list_id === state.clearing.list)
      && canEditList(todo.list_id)) return false;
  if (f.assignee === 'me' && todo.assignee_id !== myId()) return false;
  if (f.assignee === 'none' && todo.assignee_id) return false;
  if (UUID.test(f.assignee) && todo.assignee_id !== f.assignee) return false;
  if (f.status === 'open' && todo.completed) return false;
  if (f.status === 'done' && !todo.completed) return false;
  if (f.priority && !f.priority.split(',').includes(todo.priority)) return false;
  if (f.tag && !todo.tags.includes(f.tag.toLowerCase())) return false;
  const q = f.q.trim().toLowerCase();
  if (q && !`${todo.title}\n${todo.description}`.toLowerCase().includes(q)) return false;
  return true;
}

function compare(a, b) {
  const sort = state.filters.sort;
  const desc = sort.startsWith('-');
  const key = sort.replace(/^-/, '');
  let c = 0;
  if (key === 'due_at') {
    if (!a.due_at || !b.due_at) {
      c = (a.due_at ? 0 : 1) - (b.due_at ? 0 : 1);
      if (c) return c; // undated last either way
    } else c = Date.parse(a.due_at) - Date.parse(b.due_at);
  } else if (key === 'priority') c = RANK[a.priority] - RANK[b.priority];
  else if (key === 'title') c = a.title.toLowerCase().localeCompare(b.title.toLowerCase());
  else c = Date.parse(a.created_at) - Date.parse(b.created_at);
  if (!c) c = a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  return desc ? -c : c;
}

// ------------------------------------------------------------------ rendering

function render(failure) {
  const list = $('#todo-list');
  const focus = rememberFocus();
  const visible = [...state.todos.values()].filter(matches).sort(compare);
  for (const t of state.todos.values()) for (const tag of t.tags) state.knownTags.add(tag);
  wantMembers(visible.filter((t) => t.assignee_id && !assigneeOf(t)).map((t) => t.list_id));
  const old = new Map([...list.children].map((li) => [li.dataset.id, li]));
  const items = visible.map((todo) => {
    const li = old.get(todo.id);
    if (todo.id === state.editing && li?.querySelector('form')) return li;
    return renderItem(todo);
  });
  list.replaceChildren(...items);
  if (state.editing && !visible.some((t) => t.id === state.editing)) state.editing = null;
  $('#load-more').hidden = !state.nextCursor;
  renderTagOptions();
  renderEmpty(failure, visible.length);
  renderFooter();
  if (state.filters.list) renderStats();
  restoreFocus(focus);
}

function rememberFocus() {
  const el = document.activeElement;
  const li = el?.closest?.('#todo-list > li');
  if (!li) return null;
  return { id: li.dataset.id, part: el.dataset.focus || 'row' };
}

function restoreFocus(focus) {
  if (!focus || document.activeElement?.closest?.('#todo-list > li')) return;
  const li = $(`#todo-list > li[data-id="${CSS.escape(focus.id)}"]`);
  if (!li) return;
  (li.querySelector(`[data-focus="${focus.part}"]`) || li).focus();
}

/** The member a todo is assigned to, as far as is known: {name, email} or null. */
function assigneeOf(todo) {
  if (!todo.assignee_id) return null;
  const member = memberOf(todo.list_id, todo.assignee_id);
  if (member) return member;
  if (todo.assignee_id === myId()) {
    const me = loadSession()?.user;
    return me ? { name: me.name, email: me.email } : null;
  }
  return null;
}

/** The assignee's initials, with their name for a tooltip and screen readers. */
function assigneeBadge(todo) {
  if (!todo.assignee_id) return null;
  const who = assigneeOf(todo);
  const mine = todo.assignee_id === myId();
  const name = who ? `${who.name}${mine ? ' (you)' : ''}` : 'a member';
  return h('span', { class: `avatar avatar-small${mine ? ' avatar-me' : ''}`, title: `Assigned to ${name}` },
    h('span', { 'aria-hidden': 'true' }, who ? initials(who.name, who.email) : '…'),
    h('span', { class: 'sr-only' }, `Assigned to ${name}`));
}

/** In the view of all lists, which list a todo is in (the Inbox goes without saying). */
function listChip(todo) {
  if (state.filters.list) return null;
  const list = listById(todo.list_id);
  if (!list || list.is_inbox) return null;
  const dot = h('span', { class: `list-dot${list.color ? '' : ' list-dot-none'}`, 'aria-hidden': 'true' });
  if (list.color) dot.style.setProperty('--list-color', list.color);
  return h('button', {
    type: 'button', class: 'list-chip', 'aria-label': `In ${list.name}: show this list`,
    onclick: () => selectList(list.id),
  }, dot, list.name);
}

function renderItem(todo) {
  const state_ = dueState(todo);
  const titleId = `title-${todo.id}`;
  const writable = canEditList(todo.list_id);
  const meta = [];
  const chip = listChip(todo);
  if (chip) meta.push(chip);
  if (todo.priority !== 'medium') {
    meta.push(h('span', { class: `pill pill-${todo.priority}` }, PRIORITY_WORDS[todo.priority]));
  }
  if (todo.due_at) {
    const label = state_ === 'overdue' ? `Overdue · ${formatDue(todo.due_at)}` : formatDue(todo.due_at);
    meta.push(
      h('span', { class: `due due-${state_ || 'later'}`, title: formatLong(todo.due_at) },
        icon('calendar'), h('time', { datetime: todo.due_at }, label)),
    );
  }
  if (todo.recurrence !== 'none') {
    meta.push(h('span', { class: 'repeat', title: repeatTitle(todo.recurrence) },
      icon('repeat'), describeRecurrence(todo.recurrence)));
  }
  for (const tag of todo.tags) {
    meta.push(
      h('button', {
        type: 'button', class: 'tag', 'aria-label': `Show todos tagged ${tag}`,
        onclick: () => setFilter({ tag }),
      }, `#${tag}`),
    );
  }
  const classes = ['todo', todo.completed && 'is-done', state_ && `is-${state_}`, `prio-${todo.priority}`,
    !writable && 'is-read-only'];
  return h('li', {
    class: classes.filter(Boolean).join(' '),
    dataset: { id: todo.id },
    tabindex: '0',
    'aria-labelledby': titleId,
    onkeydown: (e) => {
      if (e.target !== e.currentTarget || !writable) return;
      if (e.key === 'Enter') { e.preventDefault(); startEdit(todo.id); }
      if (e.key === 'Delete') { e.preventDefault(); remove(todo.id); }
    },
  },
  h('input', {
    type: 'checkbox', class: 'check', checked: todo.completed, dataset: { focus: 'check' },
    'aria-labelledby': titleId, disabled: !writable, onchange: () => toggle(todo.id),
  }),
  h('div', { class: 'todo-body', ondblclick: writable ? () => startEdit(todo.id) : null },
    h('span', { class: 'todo-title', id: titleId }, todo.title),
    todo.description ? h('p', { class: 'todo-desc' }, todo.description) : null,
    meta.length ? h('div', { class: 'todo-meta' }, meta) : null,
  ),
  h('div', { class: 'todo-side' },
    assigneeBadge(todo),
    writable
      ? h('div', { class: 'todo-actions' },
        h('button', {
          type: 'button', class: 'icon-btn', 'aria-label': `Edit “${todo.title}”`, dataset: { focus: 'edit' },
          onclick: () => startEdit(todo.id),
        }, icon('edit')),
        h('button', {
          type: 'button', class: 'icon-btn icon-btn-danger', 'aria-label': `Delete “${todo.title}”`, dataset: { focus: 'delete' },
          onclick: () => remove(todo.id),
        }, icon('trash')))
      : null,
  ));
}

function renderStats() {
  const s = state.stats;
  const ul = $('#stats');
  if (!s) return;
  const chip = (n, word, kind) =>
    h('li', { class: `stat${kind && n ? ` stat-${kind}` : ''}` }, h('strong', {}, String(n)), ` ${word}`);
  ul.replaceChildren(
    chip(s.open, 'open'),
    chip(s.overdue, 'overdue', 'danger'),
    chip(s.due_today, 'due today', 'warning'),
    chip(s.done, 'done'),
  );
}

function renderTagOptions() {
  const select = $('#tag-filter');
  // The tags of the todos loaded so far, and the most used ones of all.
  const tags = new Set(state.knownTags);
  for (const { tag } of state.stats?.by_tag ?? []) tags.add(tag);
  if (state.filters.tag) tags.add(state.filters.tag);
  const wanted = ['', ...[...tags].sort()];
  const have = [...select.options].map((o) => o.value);
  if (wanted.join('\n') !== have.join('\n')) {
    select.replaceChildren(...wanted.map((t) => h('option', { value: t }, t ? `#${t}` : 'Any tag')));
  }
  select.value = state.filters.tag;
}

function renderEmpty(failure, count = $('#todo-list').children.length) {
  const empty = $('#empty');
  if (!state.loaded || count) {
    empty.hidden = true;
    return;
  }
  empty.hidden = false;
  if (failure) {
    empty.replaceChildren(
      h('p', { class: 'empty-title' }, 'Your todos could not be loaded'),
      h('p', {}, failure),
      h('button', { type: 'button', class: 'btn', onclick: () => loadList() }, 'Try again'),
    );
  } else if (filtersActive()) {
    const f = state.filters;
    const onlyOpen = f.status === 'open' && !f.assignee && !f.priority && !f.tag && !f.q;
    empty.replaceChildren(
      h('p', { class: 'empty-title' }, onlyOpen ? 'All caught up' : 'No todos match these filters'),
      h('p', {}, onlyOpen ? 'Every todo is done. Add a new one, or enjoy the quiet.' : 'Try another search, or show everything again.'),
      h('button', {
        type: 'button', class: 'btn', onclick: () => setFilter({ ...DEFAULTS, list: f.list, sort: f.sort }),
      }, 'Clear filters'),
    );
  } else if (state.filters.list && !canEditList(state.filters.list)) {
    empty.replaceChildren(
      h('p', { class: 'empty-title' }, 'Nothing here yet'),
      h('p', {}, 'The todos of this list show here as soon as its editors add them.'),
    );
  } else {
    empty.replaceChildren(
      h('div', { class: 'empty-art', 'aria-hidden': 'true' }, icon('check')),
      h('p', { class: 'empty-title' }, 'Nothing to do yet'),
      h('p', {}, 'Add your first todo above (press n), or ask the assistant something like “urgent task pay rent tomorrow”.'),
    );
  }
}

/** How many completed todos "Clear completed" clears: of the list shown, or of all (the stats). */
function doneCount() {
  const list = state.filters.list;
  if (state.stats) return state.stats.done;
  return [...state.todos.values()].filter((t) => t.completed && (!list || t.list_id === list)).length;
}

function renderFooter() {
  const list = state.filters.list;
  const done = doneCount();
  const button = $('#clear-done');
  button.hidden = !done || Boolean(state.clearing) || (list && !canEditList(list));
  button.textContent = `Clear completed (${done})`;
}

// ------------------------------------------------------------------ adding

function parseTags(text) {
  return text.split(',').map((t) => t.trim()).filter(Boolean);
}

async function create(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearFieldErrors(form);
  const title = $('#new-title').value;
  const body = {
    title,
    priority: $('#new-priority').value,
    tags: parseTags($('#new-tags').value),
    recurrence: $('#new-recurrence').value,
  };
  const due = toDueAt($('#new-due').value, $('#new-time').value);
  if (due) body.due_at = due;
  if (state.filters.list) body.list_id = state.filters.list;
  try {
    const todo = await busy($('#new-submit'), api('POST', '/api/todos', { body }));
    state.todos.set(todo.id, todo);
    form.reset();
    $('#new-title').focus();
    render();
    loadStats();
    if (matches(todo)) announce(`Added “${todo.title}”.`);
    else toast(`Added “${todo.title}”. The current filters hide it.`);
  } catch (error) {
    if (error.status === 401) return;
    const fields = { ...(error.fields || {}) };
    const invalid = showFieldErrors('new', fields);
    const rest = Object.keys(fields).length ? describe(Object.assign(error, { fields })) : '';
    if (!invalid.length || rest) $('#new-error').textContent = rest || describe(error);
    (invalid[0] || $('#new-title')).focus();
  }
}

// ------------------------------------------------------------------ editing

function startEdit(id) {
  const todo = state.todos.get(id);
  const li = $(`#todo-list > li[data-id="${CSS.escape(id)}"]`);
  if (!todo || !li) return;
  if (state.editing && state.editing !== id) cancelEdit();
  state.editing = id;
  const { date, time } = fromDueAt(todo.due_at);
  const field = (label, control, name, cls = '') =>
    h('div', { class: `mini-field ${cls}` }, h('label', { for: control.id }, label), control,
      name ? h('p', { class: 'field-error', id: `edit-${name}-error` }) : null);
  const option = (value, label, current) => h('option', { value, selected: value === current }, label);
  // A rule set elsewhere (another app, the assistant) is offered as it is, so
  // that saving other changes sends it back untouched rather than as "Never".
  const customRepeat = typeof todo.recurrence === 'string' && !REPEAT_CHOICES.some(([value]) => value === todo.recurrence);
  const title = h('input', { id: 'edit-title', value: todo.title, 'aria-describedby': 'edit-title-error', autocomplete: 'off' });
  const form = h('form', {
    class: 'edit-form', novalidate: true, 'aria-label': `Edit “${todo.title}”`,
    onsubmit: (e) => { e.preventDefault(); saveEdit(id, form); },
    onkeydown: (e) => { if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); cancelEdit(true); } },
  },
  field('Title', title, 'title', 'wide'),
  field('Notes', h('textarea', { id: 'edit-description', rows: '2', 'aria-describedby': 'edit-description-error' }, todo.description), 'description', 'wide'),
  h('div', { class: 'composer-details' },
    field('Priority', h('select', { id: 'edit-priority', 'aria-describedby': 'edit-priority-error' },
      ['low', 'medium', 'high', 'urgent'].map((p) => option(p, PRIORITY_WORDS[p], todo.priority))), 'priority'),
    field('Due', h('input', { id: 'edit-due', type: 'date', value: date, 'aria-describedby': 'edit-due_at-error' }), 'due_at'),
    field('Time', h('input', { id: 'edit-time', type: 'time', value: time })),
    field('Tags', h('input', { id: 'edit-tags', value: todo.tags.join(', '), 'aria-describedby': 'edit-tags-error', autocomplete: 'off' }), 'tags', 'grow'),
    field('Repeats', h('select', { id: 'edit-recurrence', 'aria-describedby': 'edit-recurrence-error' },
      REPEAT_CHOICES.map(([value, label]) => option(value, label, todo.recurrence)),
      customRepeat ? option(todo.recurrence, describeRecurrence(todo.recurrence), todo.recurrence) : null),
      'recurrence', customRepeat ? 'is-long' : ''),
    field('Assignee', assigneePicker(todo), 'assignee_id'),
  ),
  h('p', { class: 'form-error', id: 'edit-error', role: 'alert' }),
  h('div', { class: 'edit-actions' },
    h('button', { type: 'button', class: 'btn', onclick: () => cancelEdit(true) }, 'Cancel'),
    h('button', { type: 'submit', class: 'btn btn-primary', id: 'edit-save' }, 'Save'),
  ));
  clearErrorOnInput(form);
  li.classList.add('is-editing');
  li.removeAttribute('tabindex');
  li.replaceChildren(form);
  title.focus();
  title.select();
}

/**
 * The members of the todo's list to assign it to. It opens with what is
 * known (nobody, the current assignee) and fills in once the members load.
 */
function assigneePicker(todo) {
  const select = h('select', { id: 'edit-assignee', 'aria-describedby': 'edit-assignee_id-error' });
  const me = myId();
  const fill = (members) => {
    const chosen = select.options.length ? select.value : (todo.assignee_id || '');
    const people = [...members].sort((a, b) => (b.user_id === me) - (a.user_id === me) || a.name.localeCompare(b.name));
    const options = [h('option', { value: '' }, 'Nobody'),
      ...people.map((m) => h('option', { value: m.user_id }, m.user_id === me ? `${m.name} (me)` : m.name))];
    if (chosen && !people.some((m) => m.user_id === chosen)) {
      options.push(h('option', { value: chosen }, assigneeOf(todo)?.name || 'Someone who left the list'));
    }
    select.replaceChildren(...options);
    select.value = chosen;
  };
  const session = loadSession()?.user;
  const known = [];
  if (session) known.push({ user_id: me, name: session.name, email: session.email });
  const current = todo.assignee_id && memberOf(todo.list_id, todo.assignee_id);
  if (current && current.user_id !== me) known.push(current);
  fill(known);
  membersOf(todo.list_id).then((members) => {
    if (select.isConnected || state.editing === todo.id) fill(members);
  }).catch(() => { /* the known ones stay; the API checks the choice */ });
  return select;
}

function cancelEdit(refocus = false) {
  const id = state.editing;
  state.editing = null;
  render();
  if (refocus && id) $(`#todo-list > li[data-id="${CSS.escape(id)}"]`)?.focus();
}

async function saveEdit(id, form) {
  const todo = state.todos.get(id);
  clearFieldErrors(form);
  const next = {
    title: $('#edit-title').value,
    description: $('#edit-description').value,
    priority: $('#edit-priority').value,
    due_at: toDueAt($('#edit-due').value, $('#edit-time').value),
    tags: parseTags($('#edit-tags').value),
    recurrence: $('#edit-recurrence').value,
    assignee_id: $('#edit-assignee').value || null,
  };
  const patch = {};
  for (const [key, value] of Object.entries(next)) {
    const before = todo[key];
    const same = key === 'tags'
      ? value.map((t) => t.toLowerCase()).join(',') === before.join(',')
      : key === 'due_at'
        ? (value && before ? Date.parse(value) === Date.parse(before) : value === before)
        : value === before;
    if (!same) patch[key] = value;
  }
  if (!Object.keys(patch).length) {
    cancelEdit(true);
    return;
  }
  try {
    const updated = await busy($('#edit-save'), api('PATCH', `/api/todos/${id}`, {
      body: patch, headers: { 'if-match': `"${todo.version}"` },
    }));
    state.todos.set(id, updated);
    state.editing = null;
    render();
    loadStats();
    $(`#todo-list > li[data-id="${CSS.escape(id)}"]`)?.focus();
    announce('Saved.');
  } catch (error) {
    if (error.status === 401) return;
    if (error.status === 412) {
      try {
        state.todos.set(id, await api('GET', `/api/todos/${id}`));
      } catch { /* the message below still holds */ }
      $('#edit-error').textContent =
        'This todo was changed somewhere else meanwhile. Save again to keep your version, or Cancel to see theirs.';
      return;
    }
    if (error.status === 404) {
      state.todos.delete(id);
      state.editing = null;
      render();
      toast(describe(error, 'This todo'), { kind: 'error' });
      return;
    }
    const fields = { ...(error.fields || {}) };
    const invalid = showFieldErrors('edit', fields);
    if (!invalid.length || Object.keys(fields).length) $('#edit-error').textContent = describe(Object.assign(error, { fields }));
    (invalid[0] || $('#edit-title')).focus();
  }
}

// ------------------------------------------------------------------ toggling

async function toggle(id) {
  const todo = state.todos.get(id);
  if (!todo) return;
  // Shown at once; put back if the API refuses.
  state.todos.set(id, { ...todo, completed: !todo.completed });
  render();
  try {
    const { todo: updated, next } = await api('POST', `/api/todos/${id}/toggle`, {
      headers: { 'if-match': `"${todo.version}"` },
    });
    state.todos.set(id, updated);
    if (next) {
      state.todos.set(next.id, next);
      toast(`Next “${next.title}” is due ${formatDue(next.due_at).toLowerCase()}.`);
    }
    announce(updated.completed ? `Completed “${updated.title}”.` : `Reopened “${updated.title}”.`);
    render();
    loadStats();
  } catch (error) {
    state.todos.set(id, todo);
    if (error.status === 412) {
      try { state.todos.set(id, await api('GET', `/api/todos/${id}`)); } catch { /* shown below */ }
    } else if (error.status === 404) state.todos.delete(id);
    render();
    if (error.status !== 401) toast(describe(error, 'This todo'), { kind: 'error' });
  }
}

// ------------------------------------------------------------------ deleting

/** Hidden at once, deleted after the Undo window: an undone delete loses nothing. */
function remove(id) {
  const todo = state.todos.get(id);
  if (!todo || state.pendingDeletes.has(id)) return;
  const li = $(`#todo-list > li[data-id="${CSS.escape(id)}"]`);
  const neighbour = li?.nextElementSibling || li?.previousElementSibling;
  if (state.editing === id) state.editing = null;
  const timer = setTimeout(() => commitDelete(id), UNDO_MS);
  state.pendingDeletes.set(id, { timer, todo });
  render();
  (neighbour?.isConnected ? neighbour : $('#new-title')).focus();
  const close = toast(`Deleted “${todo.title}”.`, {
    timeout: UNDO_MS,
    action: {
      label: 'Undo',
      run: () => {
        const pending = state.pendingDeletes.get(id);
        if (!pending) return;
        clearTimeout(pending.timer);
        state.pendingDeletes.delete(id);
        render();
        $(`#todo-list > li[data-id="${CSS.escape(id)}"]`)?.focus();
        announce(`Restored “${todo.title}”.`);
      },
    },
  });
  state.pendingDeletes.get(id).close = close;
}

async function commitDelete(id) {
  const pending = state.pendingDeletes.get(id);
  if (!pending) return;
  try {
    await api('DELETE', `/api/todos/${id}`);
    state.pendingDeletes.delete(id);
    state.todos.delete(id);
    loadStats();
  } catch (error) {
    state.pendingDeletes.delete(id);
    if (error.status === 404) state.todos.delete(id);
    else if (error.status !== 401) toast(`“${pending.todo.title}” was not deleted. ${describe(error)}`, { kind: 'error' });
    render();
  }
}

/** Sends the deletes still waiting for their Undo window (the page is going away). */
export function flushDeletes() {
  for (const [id, pending] of state.pendingDeletes) {
    clearTimeout(pending.timer);
    api('DELETE', `/api/todos/${id}`, { keepalive: true }).catch(() => {});
  }
  state.pendingDeletes.clear();
  if (state.clearing) {
    clearTimeout(state.clearing.timer);
    api('DELETE', clearPath(state.clearing), { keepalive: true }).catch(() => {});
    state.clearing = null;
  }
}

/**
 * Clears the completed todos (of one list, or of every list the caller
 * edits) not changed after the token seen (all of them without one).
 */
function clearPath({ seen, list }) {
  const params = new URLSearchParams({ status: 'done' });
  if (list) params.set('list', list);
  if (seen) params.set('unchanged_since', seen);
  return `/api/todos?${params}`;
}

/** The sync token once a sync has run that started after every change this tab knows of. */
async function syncedToken() {
  if (state.syncing) await state.syncing; // it may have started before them
  await sync();
  return state.syncToken;
}

function clearCompleted() {
  if (state.clearing) return;
  const count = doneCount();
  // What is cleared is what was completed when the user asked: a todo
  // completed in another tab during the Undo window stays.
  const clearing = { timer: setTimeout(commitClear, UNDO_MS), seen: null, list: state.filters.list };
  clearing.ready = syncedToken().then((token) => { clearing.seen = token; });
  state.clearing = clearing;
  render();
  $('#new-title').focus();
  toast(`Cleared ${count} completed ${count === 1 ? 'todo' : 'todos'}.`, {
    timeout: UNDO_MS,
    action: {
      label: 'Undo',
      run: () => {
        if (!state.clearing) return;
        clearTimeout(state.clearing.timer);
        state.clearing = null;
        render();
        announce('Restored the completed todos.');
      },
    },
  });
}

async function commitClear() {
  const clearing = state.clearing;
  if (!clearing) return;
  try {
    await clearing.ready;
    await api('DELETE', clearPath(clearing));
    // The delta sync names exactly the todos that were cleared.
    await syncedToken();
    loadStats();
  } catch (error) {
    if (error.status !== 401) toast(`The completed todos were not cleared. ${describe(error)}`, { kind: 'error' });
  } finally {
    state.clearing = null;
    render();
  }
}

// ------------------------------------------------------------------ wiring

let searchTimer;

export function initTodos() {
  $('#new-todo').addEventListener('submit', create);
  $('#search').addEventListener('input', (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => setFilter({ q: e.target.value }, false), 250);
  });
  $('#search').addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && e.target.value) {
      e.stopPropagation();
      e.target.value = '';
      setFilter({ q: '' }, false);
    }
  });
  $('#status-filter').addEventListener('change', (e) => setFilter({ status: e.target.value }));
  $('#priority-filter').addEventListener('change', (e) => setFilter({ priority: e.target.value }));
  $('#tag-filter').addEventListener('change', (e) => setFilter({ tag: e.target.value }));
  $('#assignee-filter').addEventListener('change', (e) => setFilter({ assignee: e.target.value }));
  $('#sort').addEventListener('change', (e) => setFilter({ sort: e.target.value }));
  $('#load-more').addEventListener('click', loadMore);
  $('#clear-done').addEventListener('click', clearCompleted);
  window.addEventListener('pagehide', flushDeletes);
}

/** Esc: closes the editor if one is open; answers whether it did. */
export function closeEditor() {
  if (!state.editing) return false;
  cancelEdit(true);
  return true;
}
