// How long the live updates rest after a failed long-poll. A 429 says how
// long (`Retry-After`: the account's 20 long-polls are all open, in other
// tabs or devices); a little randomness keeps the tabs that were refused
// together from all coming back at once. Anything else: 1 s, doubling, at
// most 30 s.

export const BACKOFF_MS = { first: 1000, max: 30000 };

/** Milliseconds to rest after `error`, the previous rest having been `previous` ms. */
export function restAfter(error, previous = 0, random = Math.random) {
  if (error?.status === 429) {
    const seconds = error.retryAfter > 0 ? error.retryAfter : BACKOFF_MS.first / 1000;
    return Math.round(seconds * 1000 * (1 + random() / 2));
  }
  return Math.min(previous ? previous * 2 : BACKOFF_MS.first, BACKOFF_MS.max);
}
