// The API client: one place that adds the token, reads the error shape
// {"error":{"code","message","fields"}} and turns failures into ApiError.

const SESSION_KEY = 'todo.session';

/** The stored session ({token, user, expiresAt}) or null. */
export function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    return s && typeof s.token === 'string' ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(tokenAnswer) {
  const session = {
    token: tokenAnswer.access_token,
    user: tokenAnswer.user,
    expiresAt: Date.now() + tokenAnswer.expires_in * 1000,
  };
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

export function clearSession() {
  localStorage.removeItem(SESSION_KEY);
}

export const SESSION_STORAGE_KEY = SESSION_KEY;

export class ApiError extends Error {
  constructor({ status = 0, code = 'network', message = '', fields = null, retryAfter = null, challenge = null }) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
    /** A login's proof-of-work challenge ({token, difficulty}), while its email is under attack. */
    this.challenge = challenge;
  }
  get network() {
    return this.code === 'network';
  }
}

let onUnauthorized = () => {};
/** Called once for any 401 on an authenticated call (expired or revoked token). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

let onConnection = () => {};
/**
 * Called after every call with whether the server was reached (any answer
 * below 500) or not (no answer at all), so that one place can tell the
 * user, and the live updates can retry at once when it answers again.
 */
export function setConnectionHandler(fn) {
  onConnection = fn;
}

/**
 * Calls the API. `body` is sent as JSON; `headers` are added; `signal`
 * (an AbortSignal) cancels it, with an ApiError whose code is `aborted`.
 * Answers the parsed JSON (or null for 204), or throws ApiError.
 */
export async function api(method, path, { body, headers = {}, auth = true, keepalive = false, signal } = {}) {
  const h = { accept: 'application/json', ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  const session = loadSession();
  if (auth && session) h.authorization = `Bearer ${session.token}`;
  const aborted = () => new ApiError({ status: 0, code: 'aborted' });
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      keepalive,
      signal,
      cache: 'no-store',
    });
  } catch {
    if (signal?.aborted) throw aborted();
    onConnection(false);
    throw new ApiError({ status: 0, code: 'network' });
  }
  onConnection(response.status < 500);
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    if (signal?.aborted) throw aborted();
    data = null;
  }
  if (response.ok) return data;
  const e = (data && data.error) || {};
  const error = new ApiError({
    status: response.status,
    code: e.code || `http_${response.status}`,
    message: e.message || response.statusText,
    fields: e.fields || null,
    retryAfter: Number(response.headers.get('retry-after')) || null,
    challenge: e.challenge || null,
  });
  if (response.status === 401 && auth && session) onUnauthorized(error);
  throw error;
}

const FIELD_WORDS = {
  title: 'Title', description: 'Notes', priority: 'Priority', due_at: 'Due date',
  tags: 'Tags', recurrence: 'Repeats', email: 'Email', password: 'Password', name: 'Name',
  message: 'Message', list_id: 'List', assignee_id: 'Assignee', color: 'Colour', role: 'Role',
};

/** A sentence a person understands, for any failure. */
export function describe(error, what = 'That') {
  if (!(error instanceof ApiError)) return 'Something unexpected happened. Please try again.';
  switch (error.code) {
    case 'network':
      return "Can't reach the server. Check your connection and try again.";
    case 'email_taken':
      return 'An account with this email already exists. Log in instead?';
    case 'limit_reached':
      // Todos: the list owner's 10,000. Lists: their own limits, named in the message.
      if (/already holds/.test(error.message)) {
        return "This list's owner has reached the limit of 10,000 todos. Clear some completed ones first.";
      }
      return error.message ? `That is more than allowed: ${error.message}.` : 'That is more than allowed.';
    case 'forbidden':
      return /viewer/.test(error.message)
        ? 'You can view this list but not change it. Ask its owner to make you an editor.'
        : "Only the list's owner can do that.";
    case 'inbox':
      return 'Your Inbox is yours alone: it cannot be shared, renamed or deleted.';
    case 'owner_must_hand_over':
      return "You own this list. Make another member its owner first (change their role to Owner); then you can leave.";
    case 'already_member':
      return 'That person is already a member of this list.';
    case 'already_invited':
      return 'That email already has an invitation to this list waiting for an answer.';
    case 'precondition_failed':
      return 'This todo was changed somewhere else. The latest version is shown now; please try again.';
    case 'payload_too_large':
      return 'That is too much text to save.';
    case 'llm_unavailable':
      return 'The assistant is not available right now.';
    case 'proof_required':
      return 'This account is seeing many failed logins. Please try again.';
    default:
  }
  switch (error.status) {
    case 401:
      return error.message === 'wrong email or password'
        ? 'Wrong email or password.'
        : 'Your session has expired. Please log in again.';
    case 404:
      return `${what} no longer exists. It may have been deleted somewhere else.`;
    case 422: {
      const fields = Object.entries(error.fields || {});
      if (!fields.length) return capitalize(error.message);
      return fields.map(([f, m]) => `${FIELD_WORDS[f] || f}: ${m.join(', ')}`).join('. ');
    }
    case 429: {
      const s = error.retryAfter;
      if (!s) return 'Too many attempts. Please wait a little and try again.';
      return s > 90
        ? `Too many attempts. Please try again in ${Math.ceil(s / 60)} minutes.`
        : `Too many attempts. Please try again in ${s} seconds.`;
    }
    case 503:
      return 'The service is temporarily unavailable. Please try again in a moment.';
    default:
      if (error.status >= 500) return 'Something went wrong on our side. Please try again.';
      return capitalize(error.message || 'The request was refused.');
  }
}

export function capitalize(text) {
  const t = String(text || '');
  return t.charAt(0).toUpperCase() + t.slice(1);
}

export const timeZone = (() => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
})();
