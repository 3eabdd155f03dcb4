// Reminders that went off, as the delta sync (and its long-poll) reports
// them: shown in the app as a toast that stays until dismissed and, when
// the user has allowed it, as a browser notification. Every open tab gets
// the same reminders; the notification's tag lets the browser show one.

import { $, toast } from './ui.js';
import { formatDue } from './dates.js';

const shown = new Set();

/** Shows each reminder of a sync answer once. */
export function showReminders(reminders = []) {
  for (const reminder of reminders) {
    const key = `${reminder.todo_id}@${reminder.fired_at}`;
    if (shown.has(key)) continue;
    shown.add(key);
    const text = reminder.due_at
      ? `Reminder: ${reminder.title} (due ${formatDue(reminder.due_at)})`
      : `Reminder: ${reminder.title}`;
    toast(text, { kind: 'reminder', timeout: 0 });
    if ('Notification' in window && Notification.permission === 'granted') {
      try {
        new Notification('Todo reminder', { body: text, tag: key });
      } catch {
        // Some browsers allow notifications only from a service worker; the toast is shown anyway.
      }
    }
  }
}

/** The header button that asks the browser for permission to notify. */
export function initReminders() {
  const button = $('#allow-notifications');
  const update = () => {
    button.hidden = !('Notification' in window) || Notification.permission !== 'default';
  };
  update();
  button.addEventListener('click', async () => {
    await Notification.requestPermission();
    update();
  });
}
