// Issue 10 in a real headless browser: the dashboard of a dry-run proxy with 3 keys (one blocked) — keys, live feed, Unblock, token prompt.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedFault } from '../src/proxy/server.js';
import { REPO_ROOT } from './helpers/kmi.js';
import { startDashboard, stateWithBlocked, type DashboardHarness } from './dashboard-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const hasBrowser = existsSync(CHROMIUM);
if (!hasBrowser) console.warn(`dashboard browser tests skipped: no browser at ${CHROMIUM}`);
const RESULTS = join(REPO_ROOT, 'test-results');

let browser: Browser | null = null;
let h: DashboardHarness | null = null;

beforeAll(async () => {
  if (!hasBrowser) return;
  await mkdir(RESULTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  await h?.close();
  h = null;
});

/** Page errors and console errors: the page must run clean. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().includes('401')) errors.push(msg.text());
  });
  return errors;
}

async function chat(url: string, token?: string): Promise<void> {
  const res = await fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { 'x-kmi-proxy-token': token }),
    },
    body: JSON.stringify({ model: 'kimi-for-coding', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
}

/** Room for a loaded machine (2 shared cores): expect.poll gives up after 1 s by default. */
const POLL = { timeout: 10_000 };

const badgeOf = (page: Page, label: string) =>
  page.locator(`#key-rows tr[data-key="${label}"] .badge`);

describe('dashboard in a browser', () => {
  it.skipIf(!hasBrowser)(
    'shows the keys, streams live requests, and Unblock unblocks (row and state.json)',
    async () => {
      const faults: Record<string, SimulatedFault> = {};
      h = await startDashboard({
        labels: ['alpha', 'bravo', 'charlie'],
        initialState: stateWithBlocked(['bravo']),
        env: { KMI_DRY_RUN: '1', KMI_USAGE_CACHE_SECONDS: '300' },
        proxy: { simulate: { faults } },
      });
      await h.proxy.refreshUsage(); // synthetic quota for the bars
      const page = await browser!.newPage({ viewport: { width: 1360, height: 1000 } });
      const errors = watchErrors(page);
      await page.goto(h.url('/_kmi/ui'));

      await page.locator('#key-rows tr').nth(2).waitFor();
      expect(await page.locator('#key-rows tr').count()).toBe(3);
      expect(await page.locator('#mode').textContent()).toBe('DRY RUN');
      await expect.poll(() => badgeOf(page, 'bravo').textContent(), POLL).toContain('blocked');
      expect(await badgeOf(page, 'alpha').textContent()).toBe('healthy');
      expect(await page.locator('#warnings').textContent()).toContain('bravo (auth)');
      expect(await page.locator('#conn').textContent()).toBe('Live');

      // Live requests arrive in the feed without a reload; a failing key shows up as a failover.
      for (let i = 0; i < 10; i++) await chat(h.proxy.url);
      faults.charlie = '5xx';
      for (let i = 0; i < 2; i++) await chat(h.proxy.url);
      delete faults.charlie;
      await page.waitForFunction(() => document.querySelectorAll('#feed-rows tr').length >= 12);
      const firstRow = await page.locator('#feed-rows tr').first().textContent();
      expect(firstRow).toContain('/chat/completions');
      expect(await page.locator('#feed-rows .has-failover').count()).toBeGreaterThan(0);

      // Unblock with the keyboard: focus the button, press Enter.
      const unblock = page.getByRole('button', { name: 'Unblock bravo' });
      expect(await unblock.isEnabled()).toBe(true);
      expect(await page.getByRole('button', { name: 'Unblock alpha' }).isDisabled()).toBe(true);
      await unblock.focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => badgeOf(page, 'bravo').textContent(), POLL).not.toContain('blocked');
      expect(await page.locator('#action-msg').textContent()).toBe('unblocked: bravo');
      expect((await h.stateOnDisk()).keys.bravo).toMatchObject({
        blocked_reason: null,
        blocked_until: null,
      });
      expect(h.logger.audits().map((l) => [l.event, l.fields.via])).toEqual([
        ['unblock', 'dashboard'],
      ]);

      // More traffic now spreads over all three keys; let a tick redraw the charts, then look.
      for (let i = 0; i < 9; i++) await chat(h.proxy.url);
      await page.waitForFunction(() => document.querySelectorAll('#feed-rows tr').length >= 21);
      await page.waitForFunction(() => document.querySelectorAll('#dist li').length === 3);
      await page.waitForTimeout(1200);
      await page.screenshot({ path: join(RESULTS, 'dashboard.png'), fullPage: true });

      await page.setViewportSize({ width: 420, height: 900 });
      await page.waitForTimeout(200);
      await page.screenshot({ path: join(RESULTS, 'dashboard-narrow.png'), fullPage: true });
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.setViewportSize({ width: 1360, height: 1000 });
      await page.waitForTimeout(200);
      await page.screenshot({ path: join(RESULTS, 'dashboard-dark.png'), fullPage: true });
      expect(errors).toEqual([]);
      await page.close();
    },
    90_000,
  );

  it.skipIf(!hasBrowser)(
    'with a proxy token, asks for it once, keeps it in sessionStorage and never in the URL',
    async () => {
      const token = 'browser-token-42';
      h = await startDashboard({
        labels: ['alpha', 'bravo', 'charlie'],
        initialState: stateWithBlocked(['bravo']),
        env: { KMI_DRY_RUN: '1', KMI_PROXY_TOKEN: token },
      });
      const page = await browser!.newPage({ viewport: { width: 1100, height: 800 } });
      const errors = watchErrors(page);
      await page.goto(h.url('/_kmi/ui'));
      const dialog = page.getByRole('dialog', { name: 'Proxy token' });
      await dialog.waitFor({ timeout: 10_000 });
      await page.getByRole('textbox', { name: 'Token' }).fill('wrong');
      await page.keyboard.press('Enter');
      await expect
        .poll(() => page.locator('#token-error').textContent(), POLL)
        .toContain('not accepted');
      await page.getByRole('textbox', { name: 'Token' }).fill(token);
      await page.getByRole('button', { name: 'Connect' }).click();
      await page.locator('#key-rows tr').nth(2).waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('kmi-proxy-token'))).toBe(token);
      expect(page.url()).not.toContain(token);

      await chat(h.proxy.url, token);
      await page.waitForFunction(() => document.querySelectorAll('#feed-rows tr').length >= 1);

      // A reload in the same tab does not ask again.
      await page.reload();
      await page.locator('#key-rows tr').nth(2).waitFor();
      expect(await dialog.isVisible()).toBe(false);
      await page.getByRole('button', { name: 'Unblock bravo' }).click();
      await expect.poll(() => badgeOf(page, 'bravo').textContent(), POLL).not.toContain('blocked');
      expect(errors).toEqual([]);
      await page.close();
    },
    90_000,
  );
});
