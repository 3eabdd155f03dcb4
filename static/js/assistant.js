// The assistant panel: a chat over POST /api/chat that shows which tier
// answered, what it did to the todos (and puts that in the list at once),
// and the conversations kept by the API.

import { api, describe, timeZone } from './api.js';
import { $, h, busy } from './ui.js';
import { applyChanges, sync } from './todos.js';
import { formatDue } from './dates.js';

const CONVERSATION_KEY = 'todo.conversation';
const TIERS = {
  rules: ['Rules', 'Understood by the built-in rule parser'],
  qwen: ['Qwen', 'Understood by the Qwen language model'],
  ollama: ['Ollama', 'Understood by the local Ollama model'],
};

let conversationId = localStorage.getItem(CONVERSATION_KEY) || '';
let loadedFor = null;

export function isOpen() {
  return !$('#assistant').hidden;
}

export function openAssistant() {
  $('#assistant').hidden = false;
  $('#app-view').classList.add('with-assistant');
  $('#assistant-toggle').setAttribute('aria-expanded', 'true');
  document.body.classList.add('assistant-open');
  $('#chat-input').focus();
  loadConversations();
  if (loadedFor !== conversationId) loadHistory(conversationId);
}

export function closeAssistant() {
  if (!isOpen()) return false;
  $('#assistant').hidden = true;
  $('#app-view').classList.remove('with-assistant');
  $('#assistant-toggle').setAttribute('aria-expanded', 'false');
  document.body.classList.remove('assistant-open');
  $('#assistant-toggle').focus();
  return true;
}

/** Forgets the signed-out user's conversation. */
export function resetAssistant() {
  closeAssistantQuietly();
  conversationId = '';
  loadedFor = null;
  localStorage.removeItem(CONVERSATION_KEY);
  $('#chat-log').replaceChildren();
  $('#conversation').replaceChildren(h('option', { value: '' }, 'New conversation'));
}

function closeAssistantQuietly() {
  $('#assistant').hidden = true;
  $('#app-view').classList.remove('with-assistant');
  $('#assistant-toggle').setAttribute('aria-expanded', 'false');
  document.body.classList.remove('assistant-open');
}

function setConversation(id) {
  conversationId = id;
  if (id) localStorage.setItem(CONVERSATION_KEY, id);
  else localStorage.removeItem(CONVERSATION_KEY);
}

async function loadConversations() {
  try {
    const { items } = await api('GET', '/api/chat/conversations');
    const select = $('#conversation');
    select.replaceChildren(
      h('option', { value: '' }, 'New conversation'),
      ...items.map((c) => h('option', { value: c.id }, c.title || 'Conversation')),
    );
    if (conversationId && !items.some((c) => c.id === conversationId)) setConversation('');
    select.value = conversationId;
  } catch {
    // The list of old conversations is a convenience; the chat still works.
  }
}

async function loadHistory(id) {
  loadedFor = id;
  const log = $('#chat-log');
  log.replaceChildren();
  showExamples(!id);
  if (!id) {
    log.append(greeting());
    return;
  }
  log.setAttribute('aria-busy', 'true');
  try {
    const history = await api('GET', `/api/chat/history?conversation_id=${encodeURIComponent(id)}&limit=50`);
    if (loadedFor !== id) return;
    const last = history.items.length - 1;
    log.replaceChildren(...history.items.map((m, i) =>
      m.role === 'user'
        ? userBubble(m.content)
        : assistantBubble({ response: m.content, tier: m.tier, result: m.result ?? {} }, i === last)));
    scrollDown();
  } catch (error) {
    if (error.status === 404) {
      setConversation('');
      loadHistory('');
    } else if (error.status !== 401) {
      log.replaceChildren(errorBubble(`The conversation could not be loaded. ${describe(error)}`));
    }
  } finally {
    log.setAttribute('aria-busy', 'false');
  }
}

function greeting() {
  return h('li', { class: 'msg msg-assistant' },
    h('div', { class: 'bubble' },
      h('p', {}, 'Hi! Tell me what to do in plain words: add todos with a due date, priority and tags, ' +
        'find them, complete, change or delete them.')));
}

function showExamples(show) {
  $('#examples').hidden = !show;
}

function userBubble(text) {
  return h('li', { class: 'msg msg-user' }, h('div', { class: 'bubble' }, h('p', {}, text)));
}

function errorBubble(text) {
  return h('li', { class: 'msg msg-assistant msg-error' }, h('div', { class: 'bubble' }, h('p', {}, text)));
}

function tierBadge(tier) {
  if (!tier) return null;
  const [label, title] = TIERS[tier] || [tier, `Answered by ${tier}`];
  return h('span', { class: `tier tier-${tier}`, title }, h('span', { class: 'sr-only' }, 'Answered by '), label);
}

function todoLine(t) {
  return h('li', { class: t.completed ? 'is-done' : '' },
    h('span', { class: 'did-title' }, t.title),
    t.priority && t.priority !== 'medium' ? h('span', { class: `pill pill-${t.priority}` }, t.priority) : null,
    t.due_at ? h('span', { class: 'did-due' }, formatDue(t.due_at)) : null);
}

/** "What it did", from the reply's `result`. */
function didSummary(result = {}) {
  const parts = [];
  const list = (title, todos) => {
    if (!todos?.length) return;
    parts.push(h('div', { class: 'did' }, h('p', { class: 'did-head' }, title),
      h('ul', {}, todos.slice(0, 8).map(todoLine)),
      todos.length > 8 ? h('p', { class: 'did-more' }, `and ${todos.length - 8} more`) : null));
  };
  list(result.created?.length === 1 ? 'Added' : 'Added these', result.created);
  list('Updated', result.updated);
  if (result.next) list('Next occurrence', [result.next]);
  list('Deleted', result.deleted);
  list(`Found ${result.count ?? result.todos?.length ?? 0}`, result.todos);
  list('Which one do you mean?', result.candidates);
  list('Would delete', result.proposal?.todos);
  list('Left alone (changed since)', result.kept);
  return parts;
}

/**
 * Confirm and Cancel for a proposed delete: they answer "yes" or "no" in
 * the conversation, which is the only way the delete happens. Only the
 * latest answer's proposal can be answered, so sending anything removes
 * them (see `send`).
 */
function proposalActions(proposal) {
  const count = proposal.count ?? proposal.todos?.length ?? 0;
  const noun = count === 1 ? 'todo' : `${count} todos`;
  return h('div', { class: 'proposal-actions', role: 'group', 'aria-label': 'Proposed delete' },
    h('button', { type: 'button', class: 'btn btn-danger', onclick: () => send('yes') },
      count === 1 ? 'Confirm: delete the todo' : `Confirm: delete ${noun}`),
    h('button', { type: 'button', class: 'btn', onclick: () => send('no') }, 'Cancel'));
}

function assistantBubble(reply, latest = true) {
  const proposal = reply.result?.proposal;
  return h('li', { class: 'msg msg-assistant' },
    h('div', { class: 'bubble' },
      h('div', { class: 'bubble-head' }, h('span', { class: 'who' }, 'Assistant'), tierBadge(reply.tier)),
      h('p', {}, reply.response),
      didSummary(reply.result),
      proposal && latest ? proposalActions(proposal) : null));
}

function scrollDown() {
  const log = $('#chat-log');
  log.scrollTop = log.scrollHeight;
}

async function send(text) {
  const message = text.trim();
  const input = $('#chat-input');
  $('#chat-error').textContent = '';
  if (!message) {
    $('#chat-error').textContent = 'Type a message first.';
    input.focus();
    return;
  }
  const log = $('#chat-log');
  showExamples(false);
  // Any message answers (or lets lapse) a proposed delete.
  log.querySelectorAll('.proposal-actions').forEach((actions) => actions.remove());
  log.append(userBubble(message));
  const thinking = h('li', { class: 'msg msg-assistant msg-thinking' },
    h('div', { class: 'bubble' }, h('span', { class: 'dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')),
      h('span', { class: 'sr-only' }, 'The assistant is thinking…')));
  log.append(thinking);
  scrollDown();
  input.value = '';
  const body = { message };
  if (conversationId) body.conversation_id = conversationId;
  $('#chat-form').setAttribute('aria-busy', 'true');
  try {
    const reply = await busy($('#chat-send'), api('POST', '/api/chat', {
      body, headers: { 'x-timezone': timeZone },
    }));
    thinking.replaceWith(assistantBubble(reply));
    const isNew = reply.conversation_id !== conversationId;
    setConversation(reply.conversation_id);
    loadedFor = reply.conversation_id;
    const r = reply.result || {};
    const changed = [...(r.created || []), ...(r.updated || []), ...(r.next ? [r.next] : [])];
    applyChanges(changed, (r.deleted || []).map((t) => t.id));
    sync();
    if (isNew) loadConversations();
  } catch (error) {
    thinking.remove();
    if (error.status === 401) return;
    if (error.status === 404 && conversationId) setConversation('');
    log.append(errorBubble(describe(error)));
    input.value = message;
  } finally {
    $('#chat-form').setAttribute('aria-busy', 'false');
    scrollDown();
    input.focus();
  }
}

export function initAssistant() {
  $('#assistant-toggle').addEventListener('click', () => (isOpen() ? closeAssistant() : openAssistant()));
  $('#assistant-close').addEventListener('click', closeAssistant);
  $('#chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    send($('#chat-input').value);
  });
  $('#examples').addEventListener('click', (e) => {
    const chip = e.target.closest('[data-example]');
    if (chip) send(chip.dataset.example);
  });
  $('#conversation').addEventListener('change', (e) => {
    setConversation(e.target.value);
    loadHistory(e.target.value);
    $('#chat-input').focus();
  });
}
