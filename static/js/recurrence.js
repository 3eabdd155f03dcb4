// A todo's repeat in words: the plain choices ("daily") and the custom rules
// the server keeps as a subset of iCalendar's RRULE ("RRULE:FREQ=WEEKLY;
// INTERVAL=2;BYDAY=MO" reads "Every other Monday"). Anything it cannot read
// is a "Custom repeat", never an error: the server, not the page, validates.

export const CUSTOM = 'Custom repeat';

const WORDS = { none: 'Never', daily: 'Daily', weekly: 'Weekly', monthly: 'Monthly' };
const DAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];
const DAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
  'September', 'October', 'November', 'December'];
const ORDINAL_WORDS = ['first', 'second', 'third', 'fourth', 'fifth'];
const PARTS = ['FREQ', 'INTERVAL', 'BYMONTH', 'BYMONTHDAY', 'BYDAY', 'WKST', 'COUNT', 'UNTIL'];

/** A custom rule rather than one of the plain choices. */
export function isCustom(value) {
  return typeof value === 'string' && value.toUpperCase().startsWith('RRULE:');
}

/** A short English phrase for a todo's `recurrence`: "Weekly", "Every other Monday". */
export function describeRecurrence(value) {
  if (typeof value !== 'string') return CUSTOM;
  const word = WORDS[value.trim().toLowerCase()];
  if (word) return word;
  if (!isCustom(value.trim())) return CUSTOM;
  const rule = parseRule(value.trim().slice('RRULE:'.length).toUpperCase());
  return (rule && phrase(rule)) || CUSTOM;
}

/** The text of a repeat's tooltip: "Repeats every other Monday". */
export function repeatTitle(value) {
  const words = describeRecurrence(value);
  return words === CUSTOM ? 'Repeats by a custom rule' : `Repeats ${words[0].toLowerCase()}${words.slice(1)}`;
}

// ------------------------------------------------------------------ reading

/** The rule's parts as numbers and lists, or null when a part is unknown or out of range. */
function parseRule(text) {
  const raw = {};
  for (const part of text.split(';')) {
    if (!part) continue;
    const [key, val, ...extra] = part.split('=');
    if (!PARTS.includes(key) || val === undefined || extra.length || key in raw) return null;
    raw[key] = val;
  }
  if ('WKST' in raw && !DAYS.includes(raw.WKST)) return null; // read, then left out of the words
  const rule = {
    freq: ['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'].includes(raw.FREQ) ? raw.FREQ : null,
    interval: 'INTERVAL' in raw ? integer(raw.INTERVAL, 1, 999) : 1,
    months: list(raw.BYMONTH, (m) => integer(m, 1, 12)),
    monthDays: list(raw.BYMONTHDAY, (d) => nonZero(d, 31)),
    days: list(raw.BYDAY, weekday),
    count: 'COUNT' in raw ? integer(raw.COUNT, 1, Infinity) : 0,
    until: 'UNTIL' in raw ? untilDate(raw.UNTIL) : '',
  };
  return Object.values(rule).some((v) => v === null) ? null : rule;
}

function integer(text, min, max) {
  if (!/^\d{1,9}$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

/** ±1..max, as iCalendar writes it ("-1", "+2", "15"). */
function nonZero(text, max) {
  const m = /^([+-]?)(\d{1,2})$/.exec(text);
  const n = m && integer(m[2], 1, max);
  return n ? (m[1] === '-' ? -n : n) : null;
}

/** "MO" → { day: 0, nth: 0 }; "-1FR" → { day: 4, nth: -1 }. */
function weekday(text) {
  const m = /^([+-]?\d{1,2})?([A-Z]{2})$/.exec(text);
  if (!m || !DAYS.includes(m[2])) return null;
  const nth = m[1] === undefined ? 0 : nonZero(m[1], 5);
  return nth === null ? null : { day: DAYS.indexOf(m[2]), nth };
}

/** A comma list, [] when absent, null when any item is unreadable. */
function list(text, read) {
  if (text === undefined) return [];
  const items = text.split(',').map(read);
  return items.includes(null) ? null : items;
}

/** "20271231" or "20271231T235959Z" → "31 Dec 2027" (the date as written, in English). */
function untilDate(text) {
  const m = /^(\d{4})(\d{2})(\d{2})(T\d{6}Z)?$/.exec(text);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return `${d} ${MONTH_NAMES[mo - 1].slice(0, 3)} ${y}`;
}

// ------------------------------------------------------------------ writing

function phrase(rule) {
  if (!rule.freq) return null;
  const monthly = rule.freq === 'MONTHLY' || rule.freq === 'YEARLY';
  // An ordinal ("2FR") only means something within a month or a year.
  if (!monthly && rule.days.some((d) => d.nth)) return null;
  // BYMONTHDAY and BYDAY together narrow each other (Friday the 13th), so no ordinals there.
  if (rule.monthDays.length && rule.days.some((d) => d.nth)) return null;
  // A day of the month narrows a day or a week oddly: left to "Custom repeat".
  if ((rule.freq === 'DAILY' || rule.freq === 'WEEKLY') && rule.monthDays.length) return null;
  let text;
  if (rule.freq === 'DAILY') text = daily(rule);
  else if (rule.freq === 'WEEKLY') text = weekly(rule);
  else if (rule.freq === 'MONTHLY') text = monthlyOn(rule);
  else text = yearly(rule);
  if (!text) return null;
  if (rule.count) text += rule.count === 1 ? ', once' : `, ${rule.count} times`;
  if (rule.until) text += `, until ${rule.until}`;
  return text;
}

function daily(rule) {
  const n = rule.interval;
  const every = n === 1 ? 'Daily' : n === 2 ? 'Every other day' : `Every ${n} days`;
  // Day names with DAILY keep only those days: each day that is a Monday is each Monday.
  let text = every;
  if (rule.days.length) text = n === 1 ? `Every ${dayGroup(rule.days)}` : `${every}${weekdayFilter(rule.days)}`;
  return text + inMonths(rule.months);
}

function weekly(rule) {
  const n = rule.interval;
  const every = n === 1 ? 'Every' : n === 2 ? 'Every other' : `Every ${n}`;
  let text;
  if (!rule.days.length) text = n === 1 ? 'Weekly' : n === 2 ? 'Every other week' : `Every ${n} weeks`;
  else if (n === 1) text = `Every ${dayGroup(rule.days)}`;
  else if (unique(rule.days).length === 1) text = `${every} ${DAY_NAMES[rule.days[0].day]}`;
  else text = `${every} week${n > 2 ? 's' : ''} on ${dayGroup(rule.days, 'and', true)}`;
  return text + inMonths(rule.months);
}

function monthlyOn(rule) {
  const n = rule.interval;
  const every = n === 1 ? 'Monthly' : `Every ${n} months`;
  return every + onDays(rule) + inMonths(rule.months);
}

function yearly(rule) {
  const n = rule.interval;
  const every = n === 1 ? 'Every year' : `Every ${n} years`;
  const { months, monthDays, days } = rule;
  if (!months.length && !monthDays.length && !days.length) return n === 1 ? 'Yearly' : every;
  if (months.length === 1 && monthDays.length === 1 && monthDays[0] > 0 && !days.length) {
    return `${every} on ${monthDays[0]} ${MONTH_NAMES[months[0] - 1]}`;
  }
  // Without BYMONTH, BYMONTHDAY picks that day in every month of the year.
  if (!months.length && monthDays.length) return `${n === 1 ? 'Monthly' : `${every}, monthly`}${onDays(rule)}`;
  const inThem = months.length ? inMonths(months) : '';
  return `${every}${inThem}${onDays(rule)}`;
}

/** " on the 15th", " on the last Friday", " on the 13th if it is a Friday", or "". */
function onDays({ monthDays, days }) {
  if (monthDays.length) return ` on ${dayOfMonthList(monthDays)}${weekdayFilter(days)}`;
  if (!days.length) return '';
  const ranked = days.filter((d) => d.nth);
  const every = days.filter((d) => !d.nth);
  const parts = ranked.map((d) => `the ${nthWord(d.nth)} ${DAY_NAMES[d.day]}`);
  if (every.length) parts.push(`every ${dayNames(every, 'and')}`);
  return ` on ${join(parts, 'and')}`;
}

/** "the 15th", "the 1st and 15th", "the last day", "the 1st and last day". */
function dayOfMonthList(monthDays) {
  const sorted = [...new Set(monthDays)].sort((a, b) => (a < 0) - (b < 0) || a - b);
  const words = sorted.map((d) => (d > 0 ? ordinal(d) : `${nthWord(d)} day`));
  return `the ${join(words, 'and')}`;
}

function weekdayFilter(days) {
  return days.length ? ` if it is a ${dayNames(days, 'or')}` : '';
}

function inMonths(months) {
  if (!months.length) return '';
  const sorted = [...new Set(months)].sort((a, b) => a - b);
  return ` in ${join(sorted.map((m) => MONTH_NAMES[m - 1]), 'and')}`;
}

/** "weekday", "weekend", "day", or the names ("Monday and Wednesday"). */
function dayGroup(days, conjunction = 'and', plural = false) {
  const set = unique(days).join('');
  if (set === '01234') return plural ? 'weekdays' : 'weekday';
  if (set === '56') return plural ? 'weekends' : 'weekend';
  if (set === '0123456') return plural ? 'every day' : 'day';
  return dayNames(days, conjunction);
}

function dayNames(days, conjunction) {
  return join(unique(days).map((d) => DAY_NAMES[d]), conjunction);
}

/** The distinct week days, Monday first. */
function unique(days) {
  return [...new Set(days.map((d) => d.day))].sort((a, b) => a - b);
}

function nthWord(nth) {
  if (nth === -1) return 'last';
  if (nth < 0) return `${ORDINAL_WORDS[-nth - 1] || ordinal(-nth)}-to-last`;
  return ORDINAL_WORDS[nth - 1] || ordinal(nth);
}

/** 1 → "1st", 12 → "12th", 22 → "22nd". */
function ordinal(n) {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? 'th' : { 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th';
  return `${n}${suffix}`;
}

/** "a", "a and b", "a, b and c". */
function join(words, conjunction) {
  if (words.length < 2) return words.join('');
  return `${words.slice(0, -1).join(', ')} ${conjunction} ${words[words.length - 1]}`;
}
