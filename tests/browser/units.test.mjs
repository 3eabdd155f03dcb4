// Unit tests of the web UI's pure modules, run by Node alone (no browser,
// no server): `node --test tests/browser/units.test.mjs`, and with the
// browser tests by scripts/browser-test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { restAfter, BACKOFF_MS } from '../../static/js/backoff.js';
import { sha256, solve } from '../../static/js/proof.js';
import { initials, sortLists, canWrite, isColor } from '../../static/js/people.js';

test('after a 429 a long-poll rests as long as Retry-After says, and up to half again at random', () => {
  const tooMany = { status: 429, code: 'too_many_waits', retryAfter: 7 };
  assert.equal(restAfter(tooMany, 0, () => 0), 7000);
  assert.equal(restAfter(tooMany, 0, () => 0.999), 10497);
  // Tabs refused together come back at different times.
  const rests = new Set(Array.from({ length: 20 }, () => restAfter(tooMany, 4000)));
  assert.ok(rests.size > 1);
  for (const ms of rests) assert.ok(ms >= 7000 && ms < 10500, `${ms}`);
  // Without Retry-After: a second or so.
  const bare = restAfter({ status: 429, retryAfter: null }, 0, () => 0);
  assert.equal(bare, BACKOFF_MS.first);
});

test('after other failures a long-poll rests 1 s, doubling, at most 30 s', () => {
  const down = { status: 0, code: 'network' };
  const rests = [];
  let delay = 0;
  for (let i = 0; i < 7; i++) {
    delay = restAfter(down, delay);
    rests.push(delay);
  }
  assert.deepEqual(rests, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

test('the solver\'s SHA-256 is SHA-256', () => {
  for (let length = 0; length < 300; length++) {
    const bytes = new Uint8Array(length).map((_, i) => (i * 7 + length) & 255);
    assert.equal(Buffer.from(sha256(bytes)).toString('hex'),
      createHash('sha256').update(bytes).digest('hex'), `${length} bytes`);
  }
});

test('a solved challenge has the zero bits the server checks for', async () => {
  const hex = (data) => createHash('sha256').update(data).digest('hex');
  const challenge = { token: 'c'.repeat(130), difficulty: 12 };
  const proof = await solve(challenge, 'correct horse');
  assert.equal(proof.challenge, challenge.token);
  assert.match(proof.nonce, /^[0-9]{1,32}$/);
  const digest = hex(`${challenge.token}:${hex('correct horse')}:${proof.nonce}`);
  assert.match(digest, /^000/, digest); // 12 zero bits: three hex zeros
});

test('initials take the first letters of the first and last names, else of the email', () => {
  const cases = [
    ['Ada Lovelace', '', 'AL'],
    ['Ada King Lovelace', '', 'AL'],
    ['ada', '', 'A'],
    ['  grace   hopper ', '', 'GH'],
    ['Jean-Luc Picard', '', 'JP'],
    ['Émile Zola', '', 'ÉZ'],
    ['(Bob) Baker', '', 'BB'],
    ['', 'carol@example.com', 'C'],
    ['   ', '', '?'],
  ];
  for (const [name, email, expected] of cases) assert.equal(initials(name, email), expected, `${name} ${email}`);
});

test('lists sort the Inbox first, then by name whatever the case', () => {
  const list = (name, is_inbox = false) => ({ id: name, name, is_inbox });
  const sorted = sortLists([list('zoo'), list('Apples'), list('Inbox', true), list('banana')]);
  assert.deepEqual(sorted.map((l) => l.name), ['Inbox', 'Apples', 'banana', 'zoo']);
});

test('only owners and editors write; only #rrggbb is a colour', () => {
  assert.deepEqual(['owner', 'editor', 'viewer', undefined].map(canWrite), [true, true, false, false]);
  assert.deepEqual(['#0d9488', '#0D9488', '0d9488', '#fff', null].map(isColor), [true, false, false, false, false]);
});
