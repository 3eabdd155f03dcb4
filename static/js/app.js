// Entry point: chooses the screen (log in, sign up, the list) from the URL
// and the stored session, runs the auth forms and the keyboard shortcuts.
// Nothing here waits for the API before the first screen is drawn.

import { api, loadSession, saveSession, clearSession, describe, setUnauthorizedHandler, SESSION_STORAGE_KEY } from './api.js';
import { $, showFieldErrors, clearFieldErrors, clearErrorOnInput, busy, isTyping, hideBanner, initConfirm } from './ui.js';
import {
  initTodos, readFilters, loadList, startSync, reset, closeEditor, flushDeletes, selectList, refreshView,
} from './todos.js';
import { initLists, startLists, resetLists } from './lists.js';
import { initAssistant, closeAssistant, resetAssistant } from './assistant.js';
import { initReminders } from './reminders.js';
import { solve } from './proof.js';

let expiryTimer;
let afterLogin = '/';
/** The proof-of-work challenge of the last login's answer, and for which email. */
let loginChallenge = null;

function route() {
  const session = loadSession();
  const path = location.pathname;
  if (session && session.expiresAt <= Date.now()) {
    signOut('Your session has expired. Please log in again.');
    return;
  }
  if (!session) {
    if (path !== '/login' && path !== '/signup') {
      afterLogin = path === '/' ? `/${location.search}` : '/';
      history.replaceState(null, '', '/login');
    }
    showAuth(location.pathname === '/signup' ? 'signup' : 'login');
    return;
  }
  if (path !== '/') history.replaceState(null, '', `/${path === '/login' || path === '/signup' ? '' : location.search}`);
  showApp(session);
}

// ------------------------------------------------------------------ auth screens

function showAuth(mode, notice = '') {
  $('#boot').hidden = true;
  $('#app-view').hidden = true;
  $('#user-actions').hidden = true;
  $('#auth-view').hidden = false;
  const signup = mode === 'signup';
  document.title = signup ? 'Create an account · Todo' : 'Log in · Todo';
  $('#auth-title').textContent = signup ? 'Create your account' : 'Welcome back';
  $('#auth-sub').textContent = signup
    ? 'Plan your day in plain words. It takes ten seconds.'
    : 'Log in to see your todos.';
  $('#name-field').hidden = !signup;
  $('#auth-password-hint').hidden = !signup;
  $('#auth-password').autocomplete = signup ? 'new-password' : 'current-password';
  $('#auth-submit').textContent = signup ? 'Create account' : 'Log in';
  $('#auth-switch').firstChild.textContent = signup ? 'Already have an account? ' : 'New here? ';
  $('#auth-switch-link').textContent = signup ? 'Log in' : 'Create an account';
  $('#auth-switch-link').href = signup ? '/login' : '/signup';
  $('#auth-form').dataset.mode = mode;
  clearFieldErrors($('#auth-form'));
  const note = $('#auth-notice');
  note.textContent = notice;
  note.hidden = !notice;
  (signup ? $('#auth-name') : $('#auth-email')).focus();
}

async function submitAuth(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const signup = form.dataset.mode === 'signup';
  clearFieldErrors(form);
  $('#auth-notice').hidden = true;
  const body = { email: $('#auth-email').value, password: $('#auth-password').value };
  if (signup) body.name = $('#auth-name').value;
  try {
    const answer = await busy($('#auth-submit'),
      signup ? api('POST', '/api/auth/signup', { body, auth: false }) : logIn(body));
    const session = saveSession(answer);
    form.reset();
    history.replaceState(null, '', afterLogin);
    afterLogin = '/';
    showApp(session);
  } catch (error) {
    const fields = { ...(error.fields || {}) };
    if (error.code === 'email_taken') fields.email = ['An account with this email already exists. Log in instead?'];
    const invalid = showFieldErrors('auth', fields);
    if (!invalid.length || Object.keys(fields).length) {
      $('#auth-error').textContent = describe(Object.assign(error, { fields }));
    }
    (invalid[0] || $('#auth-email')).focus();
  }
}

/**
 * Logs in. While the email is under attack (many failed logins), the
 * server asks each login for a proof of work: its answers carry the next
 * challenge, which is solved here before sending (about half a second),
 * and once more when a login is asked for a newer one.
 */
async function logIn(body) {
  const email = body.email.trim().toLowerCase();
  for (let round = 0; ; round++) {
    const challenge = loginChallenge?.email === email ? loginChallenge.challenge : null;
    const sent = challenge ? { ...body, proof: await solve(challenge, body.password) } : body;
    try {
      return await api('POST', '/api/auth/login', { body: sent, auth: false });
    } catch (error) {
      loginChallenge = error.challenge ? { email, challenge: error.challenge } : null;
      if (error.code !== 'proof_required' || !loginChallenge || round >= 2) throw error;
    }
  }
}

// ------------------------------------------------------------------ the app

function showApp(session) {
  $('#boot').hidden = true;
  $('#auth-view').hidden = true;
  $('#app-view').hidden = false;
  $('#user-actions').hidden = false;
  $('#user-name').textContent = session.user?.name || session.user?.email || '';
  document.title = 'My todos · Todo';
  clearTimeout(expiryTimer);
  // setTimeout holds at most ~24.8 days.
  expiryTimer = setTimeout(() => signOut('Your session has expired. Please log in again.'),
    Math.min(session.expiresAt - Date.now(), 2 ** 31 - 1));
  readFilters();
  loadList();
  startLists();
  startSync();
}

function signOut(notice) {
  clearTimeout(expiryTimer);
  reset();
  resetLists();
  resetAssistant();
  clearSession();
  hideBanner();
  history.replaceState(null, '', '/login');
  showAuth('login', notice);
}

async function logOut() {
  flushDeletes();
  try {
    await busy($('#logout'), api('POST', '/api/auth/logout'));
  } catch {
    // The token is dropped here either way.
  }
  signOut('You have logged out.');
}

// ------------------------------------------------------------------ keyboard

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  // A dialog has the keyboard to itself (its Esc closes it).
  if (document.querySelector('dialog[open]')) return;
  const inApp = !$('#app-view').hidden;
  if (event.key === 'Escape') {
    if (closeEditor() || closeAssistant()) event.preventDefault();
    else if (isTyping(event.target)) event.target.blur();
    return;
  }
  if (!inApp || isTyping(event.target)) return;
  if (event.key === 'n') {
    if ($('#new-todo').hidden) return; // a list the user only views
    event.preventDefault();
    $('#new-title').focus();
  } else if (event.key === '/') {
    event.preventDefault();
    $('#search').focus();
    $('#search').select();
  }
}

// ------------------------------------------------------------------ start

setUnauthorizedHandler(() => signOut('Your session has expired. Please log in again.'));
initTodos();
initLists({ select: selectList, changed: refreshView });
initConfirm();
initAssistant();
initReminders();
$('#auth-form').addEventListener('submit', submitAuth);
clearErrorOnInput($('#auth-form'));
clearErrorOnInput($('#new-todo'));
$('#auth-switch-link').addEventListener('click', (e) => {
  e.preventDefault();
  const mode = $('#auth-form').dataset.mode === 'signup' ? 'login' : 'signup';
  history.pushState(null, '', `/${mode}`);
  showAuth(mode);
});
$('#logout').addEventListener('click', logOut);
document.addEventListener('keydown', onKey);
window.addEventListener('popstate', () => {
  if (!loadSession()) route();
  else {
    readFilters();
    loadList();
  }
});
// Another tab logged in or out.
window.addEventListener('storage', (e) => {
  if (e.key !== SESSION_STORAGE_KEY) return;
  const session = loadSession();
  if (!session && !$('#app-view').hidden) signOut('You logged out in another tab.');
  else if (session && $('#app-view').hidden) {
    history.replaceState(null, '', '/');
    showApp(session);
  }
});
route();
