// Small DOM helpers shared by the views: element building, icons, toasts,
// field errors, busy buttons and the connection banner.

import { capitalize } from './api.js';

export const $ = (selector, root = document) => root.querySelector(selector);

/** h('li', {class: 'x', onclick: fn}, child, 'text') */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const ICONS = {
  edit: '<path d="M4 20h4L19 9l-4-4L4 16z"/><path d="M13.5 6.5l4 4"/>',
  trash: '<path d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3"/>',
  repeat: '<path d="M17 2l3 3-3 3"/><path d="M4 11V9a4 4 0 0 1 4-4h12"/><path d="M7 22l-3-3 3-3"/><path d="M20 13v2a4 4 0 0 1-4 4H4"/>',
  calendar: '<rect x="3.5" y="5" width="17" height="15" rx="2.5"/><path d="M3.5 10h17M8 3v4M16 3v4"/>',
  check: '<path d="M5 12.5l4.5 4.5L19 7.5"/>',
  people: '<circle cx="9" cy="8" r="3.2"/><path d="M3.5 19c.6-3.2 2.8-5 5.5-5s4.9 1.8 5.5 5"/><path d="M15.5 5.2a3 3 0 0 1 0 5.6M17.5 14.3c1.6.7 2.7 2.3 3 4.7"/>',
  sparkle: '<path d="M12 3l1.8 4.6L18.5 9l-4.7 1.6L12 15l-1.8-4.4L5.5 9l4.7-1.4z"/>',
};

export function icon(name) {
  const span = document.createElement('span');
  span.className = 'icon-wrap';
  span.setAttribute('aria-hidden', 'true');
  span.innerHTML = `<svg class="icon" viewBox="0 0 24 24">${ICONS[name] || ''}</svg>`;
  return span;
}

/** Shows a toast; `action` = {label, run}. Answers a function that closes it. */
export function toast(message, { action, kind = 'info', timeout = 5000 } = {}) {
  const box = $('#toasts');
  let timer;
  const close = () => {
    clearTimeout(timer);
    el.remove();
  };
  const el = h(
    'div',
    { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : null },
    h('span', { class: 'toast-text' }, message),
    action &&
      h('button', { type: 'button', class: 'toast-action', onclick: () => { close(); action.run(); } }, action.label),
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', onclick: close }, '×'),
  );
  box.append(el);
  while (box.children.length > 3) box.firstElementChild.remove();
  if (timeout) timer = setTimeout(close, timeout);
  return close;
}

/** Puts the API's field messages beside their fields (`<prefix>-<field>-error`). */
export function showFieldErrors(prefix, fields) {
  const shown = [];
  for (const [field, messages] of Object.entries(fields || {})) {
    const slot = document.getElementById(`${prefix}-${field}-error`);
    if (!slot) continue;
    slot.textContent = messages.map(capitalize).join('. ');
    const input = document.querySelector(`[aria-describedby~="${slot.id}"]`);
    input?.setAttribute('aria-invalid', 'true');
    if (input) shown.push(input);
    delete fields[field];
  }
  return shown;
}

export function clearFieldErrors(form) {
  for (const slot of form.querySelectorAll('.field-error, .form-error')) slot.textContent = '';
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
}

/** Marks a button busy (spinner, disabled) while `promise` runs. */
export async function busy(button, promise) {
  button.disabled = true;
  button.classList.add('is-busy');
  button.setAttribute('aria-busy', 'true');
  try {
    return await promise;
  } finally {
    button.disabled = false;
    button.classList.remove('is-busy');
    button.removeAttribute('aria-busy');
  }
}

let bannerReason = null;
/** The connection banner: one message at a time, cleared by `hideBanner(reason)`. */
export function showBanner(message, reason = 'offline') {
  const banner = $('#banner');
  banner.textContent = message;
  banner.hidden = false;
  bannerReason = reason;
}

export function hideBanner(reason = 'offline') {
  if (bannerReason === reason) {
    $('#banner').hidden = true;
    bannerReason = null;
  }
}

export function isTyping(target) {
  return target instanceof HTMLElement &&
    (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

/** Says something to screen readers only. */
export function announce(message) {
  const el = $('#announcer');
  el.textContent = '';
  setTimeout(() => { el.textContent = message; }, 30);
}

/** A field's error goes away as soon as the person changes the field. */
export function clearErrorOnInput(form) {
  form.addEventListener('input', (e) => {
    const input = e.target;
    if (input.getAttribute('aria-invalid') !== 'true') return;
    input.removeAttribute('aria-invalid');
    for (const id of (input.getAttribute('aria-describedby') || '').split(' ')) {
      const slot = document.getElementById(id);
      if (slot?.classList.contains('field-error')) slot.textContent = '';
    }
  });
}

/** Opens a modal `<dialog>`; focus goes back where it was when it closes. */
export function openDialog(dialog) {
  const back = document.activeElement;
  dialog.addEventListener('close', () => {
    if (back instanceof HTMLElement && back.isConnected) back.focus();
  }, { once: true });
  dialog.showModal();
}

/**
 * Asks before something that cannot be undone (the confirm dialog of the
 * page). Answers whether the person confirmed; Esc and Cancel do not.
 */
export function confirmAction({ title, message, confirm, danger = true }) {
  const dialog = $('#confirm-dialog');
  $('#confirm-title').textContent = title;
  $('#confirm-message').textContent = message;
  const ok = $('#confirm-ok');
  ok.textContent = confirm;
  ok.className = `btn ${danger ? 'btn-danger' : 'btn-primary'}`;
  return new Promise((resolve) => {
    dialog.returnValue = '';
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
    openDialog(dialog);
    $('#confirm-cancel').focus();
  });
}

export function initConfirm() {
  $('#confirm-ok').addEventListener('click', () => $('#confirm-dialog').close('confirm'));
  $('#confirm-cancel').addEventListener('click', () => $('#confirm-dialog').close('cancel'));
}
