// Unit tests of the web UI's pure modules, run by Node alone (no browser,
// no server): `node --test tests/browser/units.test.mjs`, and with the
// browser tests by scripts/browser-test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { restAfter, BACKOFF_MS } from '../../static/js/backoff.js';
import { sha256, solve } from '../../static/js/proof.js';
import { initials, sortLists, canWrite, isColor } from '../../static/js/people.js';
import { describeRecurrence, isCustom, repeatTitle } from '../../static/js/recurrence.js';

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

test('the plain repeat choices read as one word, whatever the case', () => {
  const cases = [['none', 'Never'], ['daily', 'Daily'], ['weekly', 'Weekly'], ['monthly', 'Monthly'], ['Weekly', 'Weekly']];
  for (const [value, expected] of cases) assert.equal(describeRecurrence(value), expected, value);
});

test('custom repeat rules read as short English phrases', () => {
  const cases = [
    ['RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO', 'Every other Monday'],
    ['RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR', 'Every weekday'],
    ['RRULE:FREQ=DAILY;INTERVAL=3', 'Every 3 days'],
    ['RRULE:FREQ=MONTHLY;BYMONTHDAY=15', 'Monthly on the 15th'],
    ['RRULE:FREQ=MONTHLY;BYDAY=-1FR', 'Monthly on the last Friday'],
    ['RRULE:FREQ=MONTHLY;BYDAY=2FR', 'Monthly on the second Friday'],
    ['RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=3', 'Every year on 3 March'],
    ['RRULE:FREQ=MONTHLY;BYMONTHDAY=-1', 'Monthly on the last day'],
    ['RRULE:FREQ=WEEKLY;BYDAY=SA,SU', 'Every weekend'],
    ['RRULE:FREQ=DAILY;COUNT=5', 'Daily, 5 times'],
    ['RRULE:FREQ=DAILY;COUNT=1', 'Daily, once'],
    ['RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20271231', 'Every Monday, until 31 Dec 2027'],
    ['RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20271231T235959Z', 'Every Monday, until 31 Dec 2027'],
    ['RRULE:FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=1', 'Every 2 months on the 1st'],
    ['RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO', 'Every 2 months on the first Monday'],
    ['RRULE:FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1', 'Every year in January and July on the 1st'],
    ['RRULE:FREQ=DAILY;BYMONTH=3', 'Daily in March'],
    ['RRULE:FREQ=WEEKLY;BYMONTH=3;BYDAY=MO,WE', 'Every Monday and Wednesday in March'],
    ['RRULE:FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,WE,FR', 'Every 3 weeks on Monday, Wednesday and Friday'],
    ['RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR', 'Every other week on weekdays'],
    ['RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU', 'Every day'],
    ['RRULE:FREQ=WEEKLY;INTERVAL=2', 'Every other week'],
    ['RRULE:FREQ=WEEKLY;BYDAY=MO;WKST=SU', 'Every Monday'],
    ['RRULE:FREQ=MONTHLY;BYMONTHDAY=1,-1', 'Monthly on the 1st and last day'],
    ['RRULE:FREQ=MONTHLY;BYDAY=-2SU', 'Monthly on the second-to-last Sunday'],
    ['RRULE:FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR', 'Monthly on the 13th if it is a Friday'],
    ['RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH', 'Every year in November on the fourth Thursday'],
    ['RRULE:FREQ=YEARLY', 'Yearly'],
    ['RRULE:FREQ=YEARLY;INTERVAL=2;BYMONTH=2;BYMONTHDAY=29', 'Every 2 years on 29 February'],
    ['RRULE:FREQ=MONTHLY;BYMONTHDAY=22;COUNT=3', 'Monthly on the 22nd, 3 times'],
    ['RRULE:FREQ=MONTHLY;BYMONTHDAY=11,12,13,21,23', 'Monthly on the 11th, 12th, 13th, 21st and 23rd'],
    ['rrule:freq=weekly;interval=2;byday=mo', 'Every other Monday'],
  ];
  for (const [rule, expected] of cases) assert.equal(describeRecurrence(rule), expected, rule);
});

test('a rule that cannot be read is a custom repeat, never an error', () => {
  const unreadable = [
    'RRULE:', 'RRULE:FREQ=HOURLY', 'RRULE:INTERVAL=2', 'RRULE:FREQ=DAILY;INTERVAL=0', 'RRULE:FREQ=DAILY;INTERVAL=1000',
    'RRULE:FREQ=WEEKLY;BYDAY=XX', 'RRULE:FREQ=WEEKLY;BYDAY=1MO', 'RRULE:FREQ=MONTHLY;BYDAY=6FR', 'RRULE:FREQ=MONTHLY;BYMONTHDAY=0',
    'RRULE:FREQ=MONTHLY;BYMONTHDAY=32', 'RRULE:FREQ=YEARLY;BYMONTH=13', 'RRULE:FREQ=DAILY;COUNT=0', 'RRULE:FREQ=DAILY;UNTIL=20270230',
    'RRULE:FREQ=DAILY;UNTIL=2027-12-31', 'RRULE:FREQ=DAILY;BYSETPOS=1', 'RRULE:FREQ=DAILY;FREQ=WEEKLY', 'RRULE:FREQ=DAILY;WKST=XX',
    'FREQ=DAILY', 'yearly', 'garbage', '', null, undefined, 42, {},
  ];
  for (const value of unreadable) assert.equal(describeRecurrence(value), 'Custom repeat', String(value));
});

test('only RRULE strings are custom rules; the tooltip reads as a sentence', () => {
  assert.deepEqual(['RRULE:FREQ=DAILY', 'rrule:freq=daily', 'daily', 'none', 'FREQ=DAILY', null].map(isCustom),
    [true, true, false, false, false, false]);
  assert.equal(repeatTitle('weekly'), 'Repeats weekly');
  assert.equal(repeatTitle('RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO'), 'Repeats every other Monday');
  assert.equal(repeatTitle('RRULE:FREQ=SECONDLY'), 'Repeats by a custom rule');
});
