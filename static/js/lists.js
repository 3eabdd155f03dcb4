// The lists: the sidebar (the Inbox first, each with its open count), the
// pending invitations, creating, renaming, recolouring and deleting a list,
// and the share dialog (invite, members and roles, hand over, remove,
// leave). Which list is shown lives in the todo filters (`?list=`); the
// todo view asks here for roles and members, and is told when they change.

import { api, describe, loadSession } from './api.js';
import {
  $, h, icon, toast, busy, showFieldErrors, clearFieldErrors, clearErrorOnInput, announce, openDialog, confirmAction,
} from './ui.js';
import { initials, sortLists, canWrite, isColor, ROLE_WORDS, ROLE_HINTS } from './people.js';

/** The colours offered for a list; any other `#rrggbb` set elsewhere shows as it is. */
const COLORS = [
  ['Indigo', '#4f46e5'], ['Blue', '#2563eb'], ['Teal', '#0d9488'], ['Green', '#16a34a'],
  ['Amber', '#d97706'], ['Red', '#dc2626'], ['Pink', '#db2777'], ['Grey', '#64748b'],
];
/** How often pending invitations are looked for while the tab is visible (they are not in the sync feed). */
const INVITATIONS_EVERY_MS = 20000;

const state = {
  /** The caller's lists, in the sidebar's order. */
  lists: [],
  loaded: false,
  /** The selected list's id; '' for all lists. */
  selected: '',
  /** listId → {items, memberCount} of the members, once loaded. */
  members: new Map(),
  /** listId → the Promise of a members load in flight. */
  membersLoading: new Map(),
  invitations: [],
  /** listId → its pending invitations, as the owner last loaded or sent them. */
  sent: new Map(),
  /** The list the share dialog shows, or null. */
  sharing: null,
  /** The list the list dialog edits: null for a new one. */
  editing: null,
  generation: 0,
  /** Lists this tab is deleting or leaving: the feed may tell of it before the answer does. */
  goingAway: new Set(),
  invitationsTimer: null,
  invitationsAt: 0,
};

let hooks = { select: () => {}, changed: () => {} };

// ------------------------------------------------------------------ queries

/** The signed-in user's id. */
export function myId() {
  return loadSession()?.user?.id || '';
}

export function listById(id) {
  return state.lists.find((l) => l.id === id) || null;
}

export function allLists() {
  return state.lists;
}

/** The selected list, or null for all lists. */
export function selectedList() {
  return state.selected ? listById(state.selected) : null;
}

/**
 * Whether the caller may add and change todos in a list. A list not known
 * yet (the sidebar still loading) counts as writable: the API has the last
 * word, and a refused write shows its error.
 */
export function canEditList(id) {
  const list = listById(id);
  return list ? canWrite(list.role) : true;
}

/** A member of a list, from what was loaded; null when not (yet) known. */
export function memberOf(listId, userId) {
  return state.members.get(listId)?.items.find((m) => m.user_id === userId) || null;
}

/** The members of a list (loaded once, again after they changed). */
export function membersOf(listId) {
  const known = state.members.get(listId);
  if (known) return Promise.resolve(known.items);
  if (state.membersLoading.has(listId)) return state.membersLoading.get(listId);
  const generation = state.generation;
  const loading = api('GET', `/api/lists/${listId}/members`)
    .then((answer) => {
      if (generation !== state.generation) return [];
      state.members.set(listId, { items: answer.items, memberCount: answer.items.length });
      hooks.changed();
      return answer.items;
    })
    .finally(() => state.membersLoading.delete(listId));
  state.membersLoading.set(listId, loading);
  return loading;
}

/** Loads the members of the lists named, where they are not known yet (for the assignees' initials). */
export function wantMembers(listIds) {
  for (const id of new Set(listIds)) {
    if (!state.members.has(id) && listById(id) && listById(id).member_count > 1) {
      membersOf(id).catch(() => {});
    }
  }
}

// ------------------------------------------------------------------ loading

export async function loadLists() {
  const generation = state.generation;
  try {
    const answer = await api('GET', '/api/lists');
    if (generation !== state.generation) return;
    state.lists = sortLists(answer.items);
    state.loaded = true;
    $('#lists-error').textContent = '';
    renderLists();
    hooks.changed();
    if (state.selected && !listById(state.selected)) lostSelected();
  } catch (error) {
    if (generation !== state.generation || error.status === 401) return;
    $('#lists-error').textContent = `Your lists could not be loaded. ${describe(error)}`;
  }
}

export async function loadInvitations() {
  const generation = state.generation;
  state.invitationsAt = Date.now();
  try {
    const answer = await api('GET', '/api/invitations');
    if (generation !== state.generation) return;
    state.invitations = answer.items;
    renderInvitations();
  } catch {
    // Tried again in a while; the lists themselves are unaffected.
  }
}

/** Looks for invitations now and then while the tab is visible. */
function watchInvitations() {
  clearInterval(state.invitationsTimer);
  state.invitationsTimer = setInterval(() => {
    if (document.visibilityState === 'visible') loadInvitations();
  }, INVITATIONS_EVERY_MS);
}

function onShown() {
  if (!state.loaded || document.visibilityState !== 'visible') return;
  if (Date.now() - state.invitationsAt > 3000) loadInvitations();
}

/** Starts the lists of a signed-in session. */
export function startLists() {
  loadLists();
  loadInvitations();
  watchInvitations();
}

/**
 * What the sync feed says of the lists: changed or new ones (`lists`) and
 * those the caller lost (`removed_lists`), said in a toast unless `quiet`
 * (the caller's own delete or leave). Answers whether anything changed.
 */
export function applyListChanges(changed = [], removed = [], { quiet = false } = {}) {
  if (!changed.length && !removed.length) return false;
  const byId = new Map(state.lists.map((l) => [l.id, l]));
  for (const list of changed) {
    const before = byId.get(list.id);
    byId.set(list.id, list);
    const members = state.members.get(list.id);
    // Someone joined, left or took over: the members are loaded again when wanted.
    if (members && (members.memberCount !== list.member_count || before?.owner.id !== list.owner.id)) {
      state.members.delete(list.id);
    }
  }
  const lost = removed.map((id) => byId.get(id)).filter(Boolean);
  for (const id of removed) {
    byId.delete(id);
    state.members.delete(id);
    state.sent.delete(id);
  }
  state.lists = sortLists(byId.values());
  renderLists();
  if (state.sharing && removed.includes(state.sharing)) $('#share-dialog').close();
  else if (state.sharing && changed.some((l) => l.id === state.sharing)) refreshShare();
  const selectedLost = lost.find((l) => l.id === state.selected);
  if (quiet || (selectedLost && state.goingAway.has(selectedLost.id))) {
    if (selectedLost) hooks.select('', true);
  } else if (selectedLost) lostSelected(selectedLost.name);
  for (const l of lost) {
    if (!quiet && l !== selectedLost && !state.goingAway.has(l.id)) toast(`You no longer have access to “${l.name}”.`);
  }
  hooks.changed();
  return true;
}

function lostSelected(name) {
  toast(name ? `You no longer have access to “${name}”.` : 'That list is no longer available.');
  hooks.select('', false);
}

/** Forgets everything of the signed-out user. */
export function resetLists() {
  state.generation++;
  clearInterval(state.invitationsTimer);
  state.lists = [];
  state.loaded = false;
  state.selected = '';
  state.members = new Map();
  state.membersLoading = new Map();
  state.invitations = [];
  state.sent = new Map();
  state.goingAway = new Set();
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  $('#list-nav').replaceChildren();
  renderInvitations();
}

// ------------------------------------------------------------------ sidebar

/** Called by the todo view whenever the filters (and so the list shown) change. */
export function setSelected(id) {
  state.selected = id || '';
  renderLists();
}

function colorDot(color, extra = '') {
  const dot = h('span', { class: `list-dot${color ? '' : ' list-dot-none'}${extra}`, 'aria-hidden': 'true' });
  // CSSOM, not a style attribute: the Content-Security-Policy allows no inline style.
  if (color) dot.style.setProperty('--list-color', color);
  return dot;
}

function renderLists() {
  const nav = $('#list-nav');
  const total = state.lists.reduce((n, l) => n + l.open_count, 0);
  const item = (id, name, count, dot, shared = false) => {
    const current = id === state.selected;
    return h('li', {},
      h('a', {
        class: 'list-link', href: id ? `/?list=${encodeURIComponent(id)}` : '/',
        'aria-current': current ? 'page' : null, dataset: { list: id },
        onclick: (e) => {
          if (e.ctrlKey || e.metaKey || e.shiftKey || e.button) return;
          e.preventDefault();
          hooks.select(id, true);
        },
      },
      dot,
      h('span', { class: 'list-name' }, name),
      shared ? h('span', { class: 'list-shared', title: 'Shared' }, icon('people'), h('span', { class: 'sr-only' }, ', shared')) : null,
      h('span', { class: 'list-count' }, h('span', { class: 'sr-only' }, ', '), String(count), h('span', { class: 'sr-only' }, ' open'))));
  };
  nav.replaceChildren(
    item('', 'All lists', total, h('span', { class: 'list-dot list-dot-all', 'aria-hidden': 'true' })),
    ...state.lists.map((l) => item(l.id, l.name, l.open_count, colorDot(l.color), l.member_count > 1)),
  );
  renderHeader();
}

function renderInvitations() {
  const box = $('#invites');
  const ul = $('#invite-list');
  box.hidden = !state.invitations.length;
  ul.replaceChildren(...state.invitations.map((inv) =>
    h('li', { class: 'invite', dataset: { id: inv.id } },
      h('p', { class: 'invite-text' },
        h('strong', {}, inv.inviter.name), ' invited you to ', h('strong', {}, `“${inv.list.name}”`),
        ` as ${ROLE_WORDS[inv.role].toLowerCase()}.`),
      h('div', { class: 'invite-actions' },
        h('button', {
          type: 'button', class: 'btn btn-primary btn-small', 'aria-label': `Accept the invitation to ${inv.list.name}`,
          onclick: (e) => answerInvitation(inv, true, e.currentTarget),
        }, 'Accept'),
        h('button', {
          type: 'button', class: 'btn btn-small', 'aria-label': `Decline the invitation to ${inv.list.name}`,
          onclick: (e) => answerInvitation(inv, false, e.currentTarget),
        }, 'Decline')))));
}

async function answerInvitation(invitation, accept, button) {
  try {
    const list = await busy(button, api('POST', `/api/invitations/${invitation.id}/${accept ? 'accept' : 'decline'}`));
    state.invitations = state.invitations.filter((i) => i.id !== invitation.id);
    renderInvitations();
    if (accept && list) {
      applyListChanges([list], []);
      toast(`You joined “${list.name}”.`);
      hooks.select(list.id, true);
    } else announce(`Declined the invitation to ${invitation.list.name}.`);
  } catch (error) {
    if (error.status === 401) return;
    // Withdrawn, or answered in another tab: it is gone either way.
    if (error.status === 404 || error.status === 409) {
      state.invitations = state.invitations.filter((i) => i.id !== invitation.id);
      renderInvitations();
      toast('That invitation is no longer open. It may have been withdrawn.', { kind: 'error' });
      return;
    }
    toast(describe(error, 'That invitation'), { kind: 'error' });
  }
}

// ------------------------------------------------------------------ header

/** The heading, what is known of the list shown, and the controls its role allows. */
function renderHeader() {
  const list = selectedList();
  const heading = list ? list.name : 'My todos';
  $('#list-heading').textContent = heading;
  if (!$('#app-view').hidden) document.title = `${heading} · Todo`;
  const sub = $('#list-sub');
  const owner = list?.role === 'owner';
  if (list && (list.member_count > 1 || !owner)) {
    const by = owner ? 'Shared by you' : `Shared by ${list.owner.name}`;
    const people = `${list.member_count} ${list.member_count === 1 ? 'member' : 'members'}`;
    sub.textContent = `${by} · ${people}${list.role === 'viewer' ? ' · You can view only' : ''}`;
    sub.hidden = false;
  } else sub.hidden = true;
  const manage = Boolean(list && owner && !list.is_inbox);
  $('#list-actions').hidden = !list || list.is_inbox;
  $('#share-list').textContent = owner ? 'Share' : 'Members';
  $('#edit-list').hidden = !manage;
  $('#delete-list').hidden = !manage;
  $('#leave-list').hidden = !list || owner || list.is_inbox;
  const writable = !list || canWrite(list.role);
  $('#new-todo').hidden = !writable;
  $('#read-only-note').hidden = writable;
  if (!writable) {
    $('#read-only-note').textContent =
      `You can view “${list.name}” but not change it. Ask ${list.owner.name} to make you an editor.`;
  }
  $('#new-title').placeholder = list && !list.is_inbox ? `Add a todo to ${list.name}… (press n)` : 'Add a todo… (press n)';
}

// ------------------------------------------------------------------ create, rename, recolour, delete

function renderColorChoices(current) {
  const fieldset = $('#list-colors');
  const legend = fieldset.querySelector('legend');
  const choice = (name, value) => h('label', { class: 'swatch', title: name },
    h('input', { type: 'radio', name: 'list-color', value, checked: value === (current || '') }),
    colorDot(value, ' swatch-dot'),
    h('span', { class: 'sr-only' }, name));
  const choices = [choice('No colour', ''), ...COLORS.map(([name, value]) => choice(name, value))];
  if (current && !COLORS.some(([, value]) => value === current)) choices.push(choice(`Current colour ${current}`, current));
  fieldset.replaceChildren(legend, ...choices);
}

function openListDialog(list = null) {
  state.editing = list?.id || null;
  const form = $('#list-form');
  clearFieldErrors(form);
  $('#list-dialog-title').textContent = list ? `Edit “${list.name}”` : 'New list';
  $('#list-save').textContent = list ? 'Save' : 'Create list';
  $('#list-name').value = list?.name || '';
  renderColorChoices(list?.color || '');
  openDialog($('#list-dialog'));
  $('#list-name').focus();
}

async function saveList(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearFieldErrors(form);
  const name = $('#list-name').value;
  const picked = form.querySelector('input[name="list-color"]:checked')?.value || '';
  const color = isColor(picked) ? picked : null;
  const editing = state.editing ? listById(state.editing) : null;
  let request;
  if (editing) {
    const patch = {};
    if (name !== editing.name) patch.name = name;
    if (color !== editing.color) patch.color = color;
    if (!Object.keys(patch).length) {
      $('#list-dialog').close();
      return;
    }
    request = api('PATCH', `/api/lists/${editing.id}`, { body: patch });
  } else {
    request = api('POST', '/api/lists', { body: color ? { name, color } : { name } });
  }
  try {
    const list = await busy($('#list-save'), request);
    $('#list-dialog').close();
    applyListChanges([list], []);
    if (editing) announce(`Saved “${list.name}”.`);
    else {
      toast(`Created “${list.name}”.`);
      hooks.select(list.id, true);
    }
  } catch (error) {
    if (error.status === 401) return;
    const fields = { ...(error.fields || {}) };
    const invalid = showFieldErrors('list', fields);
    if (!invalid.length || Object.keys(fields).length) {
      $('#list-error').textContent = describe(Object.assign(error, { fields }), 'This list');
    }
    (invalid[0] || $('#list-name')).focus();
  }
}

async function deleteList() {
  const list = selectedList();
  if (!list) return;
  const todos = list.open_count === 1 ? '1 open todo' : `${list.open_count} open todos`;
  const ok = await confirmAction({
    title: `Delete “${list.name}”?`,
    message: `Its todos (${todos}, and the completed ones) are deleted for every member. This cannot be undone.`,
    confirm: 'Delete list',
  });
  if (!ok) return;
  state.goingAway.add(list.id);
  try {
    await busy($('#delete-list'), api('DELETE', `/api/lists/${list.id}`));
    applyListChanges([], [list.id], { quiet: true });
    toast(`Deleted “${list.name}”.`);
  } catch (error) {
    if (error.status !== 401) toast(describe(error, 'This list'), { kind: 'error' });
  } finally {
    state.goingAway.delete(list.id);
  }
}

async function leaveList(list = selectedList()) {
  if (!list) return;
  const ok = await confirmAction({
    title: `Leave “${list.name}”?`,
    message: `Its todos will no longer show here, and those assigned to you are unassigned. ${list.owner.name} can invite you again.`,
    confirm: 'Leave list',
  });
  if (!ok) return;
  state.goingAway.add(list.id);
  try {
    await api('DELETE', `/api/lists/${list.id}/members/${myId()}`);
    if ($('#share-dialog').open) $('#share-dialog').close();
    applyListChanges([], [list.id], { quiet: true });
    toast(`You left “${list.name}”.`);
  } catch (error) {
    if (error.status === 401) return;
    const message = describe(error, 'This list');
    if ($('#share-dialog').open) $('#share-error').textContent = message;
    else toast(message, { kind: 'error' });
  } finally {
    state.goingAway.delete(list.id);
  }
}

// ------------------------------------------------------------------ sharing

function openShare() {
  const list = selectedList();
  if (!list) return;
  state.sharing = list.id;
  clearFieldErrors($('#share-dialog'));
  $('#invite-email').value = '';
  renderShare();
  openDialog($('#share-dialog'));
  refreshShare();
  if (list.role === 'owner') $('#invite-email').focus();
}

/** Loads the members of the list in the share dialog again, and shows them. */
async function refreshShare() {
  const id = state.sharing;
  if (!id) return;
  state.members.delete(id);
  try {
    if (listById(id)?.role === 'owner') {
      const pending = await api('GET', `/api/lists/${id}/invitations`);
      state.sent.set(id, pending.items);
    }
    await membersOf(id);
    if (state.sharing === id) renderShare();
  } catch (error) {
    if (error.status !== 401 && state.sharing === id) $('#share-error').textContent = describe(error, 'This list');
  }
}

function renderShare() {
  const list = listById(state.sharing);
  if (!list) return;
  const owner = list.role === 'owner';
  $('#share-title').textContent = owner ? `Share “${list.name}”` : `Members of “${list.name}”`;
  $('#invite-form').hidden = !owner;
  $('#share-leave').hidden = owner;
  const me = myId();
  const members = state.members.get(list.id)?.items;
  const ul = $('#members');
  ul.setAttribute('aria-busy', members ? 'false' : 'true');
  if (!members) {
    ul.replaceChildren(h('li', { class: 'member-loading' }, 'Loading the members…'));
  } else {
    ul.replaceChildren(...members.map((m) => renderMember(list, m, m.user_id === me, owner)));
  }
  const sent = state.sent.get(list.id) || [];
  $('#sent-wrap').hidden = !owner || !sent.length;
  $('#sent-invites').replaceChildren(...sent.map((inv) =>
    h('li', { class: 'member' },
      h('span', { class: 'avatar avatar-pending', 'aria-hidden': 'true' }, initials('', inv.email)),
      h('span', { class: 'member-who' }, h('span', { class: 'member-name' }, inv.email),
        h('span', { class: 'member-email' }, `${ROLE_WORDS[inv.role]} · waiting for an answer`)),
      h('button', {
        type: 'button', class: 'btn btn-small', 'aria-label': `Withdraw the invitation to ${inv.email}`,
        onclick: (e) => withdraw(list, inv, e.currentTarget),
      }, 'Withdraw'))));
}

function renderMember(list, member, isMe, ownerView) {
  const name = `${member.name}${isMe ? ' (you)' : ''}`;
  let role;
  if (ownerView && member.role !== 'owner') {
    const id = `role-${member.user_id}`;
    role = h('span', { class: 'member-role' },
      h('label', { class: 'sr-only', for: id }, `Role of ${member.name}`),
      h('select', {
        id, onchange: (e) => changeRole(list, member, e.currentTarget),
      },
      h('option', { value: 'editor', selected: member.role === 'editor' }, 'Editor'),
      h('option', { value: 'viewer', selected: member.role === 'viewer' }, 'Viewer'),
      h('option', { value: 'owner' }, 'Owner (hand over)')));
  } else {
    role = h('span', { class: 'member-role role-text', title: ROLE_HINTS[member.role] }, ROLE_WORDS[member.role]);
  }
  const remove = ownerView && member.role !== 'owner'
    ? h('button', {
      type: 'button', class: 'icon-btn icon-btn-danger', 'aria-label': `Remove ${member.name}`,
      onclick: (e) => removeMember(list, member, e.currentTarget),
    }, '×')
    : null;
  return h('li', { class: 'member', dataset: { id: member.user_id } },
    h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(member.name, member.email)),
    h('span', { class: 'member-who' }, h('span', { class: 'member-name' }, name), h('span', { class: 'member-email' }, member.email)),
    role, remove);
}

async function invite(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const list = listById(state.sharing);
  if (!list) return;
  clearFieldErrors(form);
  $('#share-error').textContent = '';
  const body = { email: $('#invite-email').value.trim(), role: $('#invite-role').value };
  try {
    const sent = await busy($('#invite-submit'), api('POST', `/api/lists/${list.id}/invitations`, { body }));
    state.sent.set(list.id, [...(state.sent.get(list.id) || []), sent]);
    $('#invite-email').value = '';
    renderShare();
    announce(`Invited ${sent.email} as ${ROLE_WORDS[sent.role].toLowerCase()}.`);
    $('#invite-email').focus();
  } catch (error) {
    if (error.status === 401) return;
    const fields = { ...(error.fields || {}) };
    const invalid = showFieldErrors('invite', fields);
    if (!invalid.length || Object.keys(fields).length) {
      $('#invite-error').textContent = describe(Object.assign(error, { fields }), 'This list');
    }
    (invalid[0] || $('#invite-email')).focus();
  }
}

async function withdraw(list, invitation, button) {
  try {
    await busy(button, api('DELETE', `/api/lists/${list.id}/invitations/${invitation.id}`));
  } catch (error) {
    if (error.status === 401) return;
    if (error.status !== 404) {
      $('#share-error').textContent = describe(error, 'That invitation');
      return;
    }
    // Answered or withdrawn meanwhile: not pending any more either way.
  }
  state.sent.set(list.id, (state.sent.get(list.id) || []).filter((i) => i.id !== invitation.id));
  renderShare();
  announce(`Withdrew the invitation to ${invitation.email}.`);
  $('#invite-email').focus();
}

async function changeRole(list, member, select) {
  const role = select.value;
  $('#share-error').textContent = '';
  if (role === 'owner') {
    const ok = await confirmAction({
      title: `Hand “${list.name}” over to ${member.name}?`,
      message: `${member.name} becomes its owner; you become an editor and can no longer manage its members.`,
      confirm: 'Hand over', danger: false,
    });
    if (!ok) {
      select.value = member.role;
      return;
    }
  }
  try {
    select.disabled = true;
    await api('PATCH', `/api/lists/${list.id}/members/${member.user_id}`, { body: { role } });
    announce(role === 'owner' ? `${member.name} now owns “${list.name}”.` : `${member.name} is now ${ROLE_WORDS[role].toLowerCase()}.`);
    if (role === 'owner') await loadLists();
    await refreshShare();
  } catch (error) {
    if (error.status === 401) return;
    select.value = member.role;
    $('#share-error').textContent = describe(error, 'This member');
  } finally {
    select.disabled = false;
  }
}

async function removeMember(list, member, button) {
  const ok = await confirmAction({
    title: `Remove ${member.name} from “${list.name}”?`,
    message: `The list no longer shows for ${member.name}; the todos assigned to them there are unassigned.`,
    confirm: 'Remove',
  });
  if (!ok) return;
  $('#share-error').textContent = '';
  try {
    await busy(button, api('DELETE', `/api/lists/${list.id}/members/${member.user_id}`));
    announce(`Removed ${member.name}.`);
    await refreshShare();
    $('#invite-email').focus();
  } catch (error) {
    if (error.status === 401) return;
    $('#share-error').textContent = describe(error, 'This member');
    if (error.status === 404) refreshShare();
  }
}

// ------------------------------------------------------------------ wiring

export function initLists(handlers) {
  hooks = { ...hooks, ...handlers };
  $('#new-list').addEventListener('click', () => openListDialog());
  $('#edit-list').addEventListener('click', () => openListDialog(selectedList()));
  $('#delete-list').addEventListener('click', deleteList);
  $('#leave-list').addEventListener('click', () => leaveList());
  $('#share-list').addEventListener('click', openShare);
  $('#list-form').addEventListener('submit', saveList);
  $('#list-cancel').addEventListener('click', () => $('#list-dialog').close());
  clearErrorOnInput($('#list-form'));
  $('#invite-form').addEventListener('submit', invite);
  clearErrorOnInput($('#invite-form'));
  $('#share-done').addEventListener('click', () => $('#share-dialog').close());
  $('#share-close').addEventListener('click', () => $('#share-dialog').close());
  $('#share-leave').addEventListener('click', () => leaveList(listById(state.sharing)));
  $('#share-dialog').addEventListener('close', () => { state.sharing = null; });
  document.addEventListener('visibilitychange', onShown);
  window.addEventListener('focus', onShown);
}
