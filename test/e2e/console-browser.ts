import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../apps/server/src/project-root';
import type { PosternProcess } from '../support/postern-process';

/** Debian's chromium (`.ci/run` installs it); playwright-core never downloads a browser. */
export const CHROMIUM = process.env.POSTERN_CHROMIUM ?? '/usr/bin/chromium';

/** Screenshots of every page the console tests visit (git-ignored), kept as test artifacts. */
export const SCREENSHOT_DIR = path.join(PROJECT_ROOT, 'test-artifacts', 'console');

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

/**
 * A fresh browser profile against the gateway (cookies of its own). Every Content-Security-
 * Policy violation and uncaught page error is collected in `problems`: the tests assert none.
 */
export async function openConsole(
  browser: Browser,
  postern: PosternProcess,
  viewport = { width: 1280, height: 860 },
): Promise<{ context: BrowserContext; page: Page; problems: string[]; origin: string }> {
  const origin = `http://127.0.0.1:${postern.httpPort}`;
  const context = await browser.newContext({ baseURL: origin, viewport });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  // Well above any wait of these pages; a step that fails says so in seconds, not minutes.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) {
      problems.push(`console: ${message.text()}`);
    }
  });
  return { context, page, problems, origin };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('whoami').waitFor();
}
