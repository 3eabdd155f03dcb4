// Due dates in the user's own time zone: what the date and time inputs hold,
// what the API stores (UTC), and how a due date reads ("Today 09:00").

const DAY = 86400000;

/** A day without a time is due at the end of that local day. */
const END_OF_DAY = [23, 59];

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate());
}

const pad = (n) => String(n).padStart(2, '0');

/** `due_at` for the API from a date input (YYYY-MM-DD) and an optional time (HH:MM). */
export function toDueAt(date, time) {
  if (!date) return null;
  const [y, m, d] = date.split('-').map(Number);
  const [hh, mm] = time ? time.split(':').map(Number) : END_OF_DAY;
  const local = new Date(y, m - 1, d, hh, mm);
  return Number.isNaN(local.getTime()) ? date : local.toISOString();
}

/** The date and time inputs' values for a stored `due_at`. */
export function fromDueAt(dueAt) {
  if (!dueAt) return { date: '', time: '' };
  const d = new Date(dueAt);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const endOfDay = d.getHours() === END_OF_DAY[0] && d.getMinutes() === END_OF_DAY[1];
  return { date, time: endOfDay ? '' : `${pad(d.getHours())}:${pad(d.getMinutes())}` };
}

/** 'overdue', 'today' or '' for an open todo's due date. */
export function dueState(todo, now = new Date()) {
  if (!todo.due_at || todo.completed) return '';
  const due = new Date(todo.due_at);
  if (due < now) return 'overdue';
  if (startOfDay(due).getTime() === startOfDay(now).getTime()) return 'today';
  return '';
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const weekdayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const dayFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const yearFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const longFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });

/** "Today 09:00", "Tomorrow", "Fri", "3 Dec", "3 Dec 2027". */
export function formatDue(dueAt, now = new Date()) {
  const due = new Date(dueAt);
  const days = Math.round((startOfDay(due) - startOfDay(now)) / DAY);
  let day;
  if (days === 0) day = 'Today';
  else if (days === 1) day = 'Tomorrow';
  else if (days === -1) day = 'Yesterday';
  else if (days > 1 && days < 7) day = weekdayFormat.format(due);
  else if (due.getFullYear() === now.getFullYear()) day = dayFormat.format(due);
  else day = yearFormat.format(due);
  const { time } = fromDueAt(dueAt);
  return time ? `${day} ${timeFormat.format(due)}` : day;
}

export function formatLong(iso) {
  return longFormat.format(new Date(iso));
}
