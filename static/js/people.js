// Pure helpers for lists and their members: initials for a member's badge,
// the words for a role, the sidebar's order. No DOM here, so that Node runs
// their unit tests (tests/browser/units.test.mjs).

/**
 * One or two capital letters for a person: the first letters of the first
 * and last words of the name ("Ada King Lovelace" → "AL"), else the first
 * letter of the email. "?" when there is nothing to go by.
 */
export function initials(name, email = '') {
  const words = String(name || '').trim().split(/[\s\-_.]+/u).filter((w) => /\p{L}|\p{N}/u.test(w));
  const first = (word) => Array.from(word).find((c) => /\p{L}|\p{N}/u.test(c)) || '';
  if (words.length) {
    const letters = words.length > 1 ? first(words[0]) + first(words[words.length - 1]) : first(words[0]);
    return letters.toLocaleUpperCase();
  }
  return first(String(email || '')).toLocaleUpperCase() || '?';
}

export const ROLE_WORDS = { owner: 'Owner', editor: 'Editor', viewer: 'Viewer' };

/** What a role lets its holder do, in a few words. */
export const ROLE_HINTS = {
  owner: 'can change everything and manage members',
  editor: 'can add, change and complete todos',
  viewer: 'can only look',
};

/** The Inbox first, then by name (case-insensitive), as the API orders them. */
export function sortLists(lists) {
  return [...lists].sort((a, b) => {
    if (a.is_inbox !== b.is_inbox) return a.is_inbox ? -1 : 1;
    const byName = a.name.localeCompare(b.name, undefined, { sensitivity: 'base' });
    return byName || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  });
}

/** Whether the caller may add and change todos in a list of this role. */
export function canWrite(role) {
  return role === 'owner' || role === 'editor';
}

/** A colour the API accepts: `#rrggbb`, lower case. */
export function isColor(value) {
  return typeof value === 'string' && /^#[0-9a-f]{6}$/.test(value);
}
