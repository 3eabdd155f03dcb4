// What the browser tests share: Debian's Chromium through playwright-core
// (never a downloaded browser), a fresh profile per run, accounts made
// through the UI, axe-core checks and screenshots kept as artifacts.

import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

export const BASE = process.env.BASE || 'http://127.0.0.1:3000';
export const ARTIFACTS = resolve(process.env.BROWSER_ARTIFACTS || '.dev/browser-artifacts');
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
mkdirSync(ARTIFACTS, { recursive: true });

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * Chromium. playwright-core starts it with a new, empty profile of its own
 * (a fresh --user-data-dir in a temporary folder) and removes it on close.
 */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
  });
}

/** A new browser context: another device, with its own storage. */
export function newContext(browser, options = {}) {
  return browser.newContext({ viewport: DESKTOP, baseURL: BASE, ...options });
}

/** A page that fails the test on any script error or CSP violation. */
export async function openPage(context) {
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) page.problems.push(text);
  });
  return page;
}

let counter = 0;
export function uniqueEmail(name = 'user') {
  counter += 1;
  return `${name}-${Date.now()}-${process.pid}-${counter}@example.com`;
}

export const PASSWORD = 'correct horse battery';

/** Signs a new account up through the form; answers its email. */
export async function signUp(page, name = 'Ada Lovelace') {
  const email = uniqueEmail(name.split(' ')[0].toLowerCase());
  await page.goto('/signup');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'My todos' }).waitFor();
  return email;
}

export async function logIn(page, email) {
  await page.goto('/login');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'My todos' }).waitFor();
}

/** axe-core on the page as it is: no serious or critical violations. */
export async function checkA11y(page, screen) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = bad.map((v) => `${v.impact} ${v.id}: ${v.help}\n  ${v.nodes.map((n) => n.target.join(' ')).join('\n  ')}`);
  assert.deepEqual(report, [], `axe on ${screen}:\n${report.join('\n')}`);
}

export async function screenshot(page, name, options = {}) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), ...options });
}

/** YYYY-MM-DD of today plus `days`, in the browser's (and so this process's) zone. */
export function localDate(days = 0) {
  const d = new Date();
  d.setDate(d.getDate() + days);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Adds a todo through the composer. */
export async function addTodo(page, { title, priority, due, time, tags, recurrence }) {
  await page.getByLabel('New todo', { exact: true }).fill(title);
  if (priority) await page.locator('#new-priority').selectOption(priority);
  if (due) await page.locator('#new-due').fill(due);
  if (time) await page.locator('#new-time').fill(time);
  if (tags) await page.locator('#new-tags').fill(tags);
  if (recurrence) await page.locator('#new-recurrence').selectOption(recurrence);
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await row(page, title).waitFor();
}

/** The list item of the todo titled `title`. */
export function row(page, title) {
  return page.locator('#todo-list > li').filter({ has: page.locator('.todo-title', { hasText: new RegExp(`^${escape(title)}$`) }) });
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export async function titles(page) {
  return page.locator('#todo-list .todo-title').allTextContents();
}

export function noProblems(page) {
  assert.deepEqual(page.problems, [], 'script errors or CSP violations');
}
