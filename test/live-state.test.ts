// Issue 7 e2e: a running proxy and real `kmi` CLI processes share state.json — CLI changes are seen within about a second, and nothing either writes is lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAuthRegistry } from '../src/auth/registry.js';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { FileStateStore } from '../src/state/store.js';
import { startFakeUpstream, usagePayload, type FakeUpstream } from './helpers/fake-upstream.js';
import {
  fakeKey,
  freePort,
  KMI_BIN,
  makeSandbox,
  runKmi,
  type RunResult,
  type Sandbox,
} from './helpers/kmi.js';
import { within } from './helpers/proxy-harness.js';

let sb: Sandbox | null = null;
let upstream: FakeUpstream | null = null;
let proxy: RunningProxy | null = null;
let store: FileStateStore | null = null;
let child: ChildProcess | null = null;

afterEach(async () => {
  await proxy?.close();
  await store?.close();
  if (child !== null && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await within(exited, 15_000, 'proxy child exit').catch(() => child?.kill('SIGKILL'));
  }
  await upstream?.close();
  await sb?.cleanup();
  sb = upstream = proxy = store = child = null;
});

const KEYS = { alpha: fakeKey('alpha'), bravo: fakeKey('bravo') };

/** A sandbox with two keys, a fake live upstream, and the proxy running in this process on the sandbox's state. */
async function setup(extraEnv: Record<string, string> = {}) {
  upstream = await startFakeUpstream();
  const port = await freePort();
  sb = await makeSandbox({
    KMI_DRY_RUN: '0',
    KMI_UPSTREAM_BASE_URL: upstream.url,
    KMI_PROXY_LISTEN: `127.0.0.1:${port}`,
    KMI_AUTO_ROTATE_ALLOWED: '1',
    KMI_AUTO_ROTATE_E2E: '0',
    KMI_WRITE_CONFIG: '0',
    KMI_USAGE_CACHE_SECONDS: '0',
    KMI_BLOCKLIST_RECHECK_SECONDS: '0',
    ...extraEnv,
  });
  await sb.writeAuth('alpha.env', `KMI_API_KEY=${KEYS.alpha}\n`);
  await sb.writeAuth('bravo.env', `KMI_API_KEY=${KEYS.bravo}\n`);
  const { config } = loadConfig({ env: sb.env, cwd: sb.cwd });
  const registry = await loadAuthRegistry({
    dir: config.authsDir,
    upstreamAllowlist: config.upstreamAllowlist,
  });
  expect(registry.keys.map((k) => k.label)).toEqual(['alpha', 'bravo']);
  // The default watch interval, as `kmi proxy` uses it.
  store = new FileStateStore({ dir: config.stateDir, enforcePerms: true });
  proxy = await startProxy({ config, keys: registry.keys, store, version: 'test' });
  return { config, url: proxy.url };
}

async function labelOf(url: string): Promise<string | null> {
  const res = await fetch(`${url}/chat/completions`, { method: 'POST', body: '{}' });
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  return res.headers.get('x-kmi-key-label');
}

/** Poll until `check` passes; the proxy should see CLI changes within ~1 s, the timeout is generous. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  await within(
    (async () => {
      while (!(await check())) await new Promise((r) => setTimeout(r, 100));
    })(),
    10_000,
    what,
  );
}

async function kmi(args: string[]): Promise<RunResult> {
  const r = await runKmi(sb!, args, { timeoutMs: 30_000 });
  return r;
}

async function stateFile(config: Config) {
  const reader = new FileStateStore({ dir: config.stateDir, enforcePerms: true });
  try {
    return await reader.read();
  } finally {
    await reader.close();
  }
}

const allTo = async (url: string, label: string, n = 3) => {
  for (let i = 0; i < n; i++) if ((await labelOf(url)) !== label) return false;
  return true;
};

describe('a running proxy follows the CLI', () => {
  it('rotate auto/off, manual rotate, unblock and doctor --clear-blocklist are picked up without restart', async () => {
    const { config, url } = await setup();
    expect(await labelOf(url)).toBe('alpha'); // auto off: the active key

    expect((await kmi(['rotate', 'auto'])).code).toBe(0);
    await eventually(async () => {
      const two = [await labelOf(url), await labelOf(url)];
      return two.includes('alpha') && two.includes('bravo');
    }, 'auto-rotate on');

    expect((await kmi(['rotate', 'off'])).code).toBe(0);
    await eventually(() => allTo(url, 'alpha'), 'auto-rotate off: back to the active key');

    // A manual rotate picks the key with most quota left and records it as active.
    upstream!.setKey(KEYS.alpha, { usages: { body: usagePayload({ weeklyRemaining: 30 }) } });
    upstream!.setKey(KEYS.bravo, { usages: { body: usagePayload({ weeklyRemaining: 90 }) } });
    const rotated = await kmi(['rotate', '--json']);
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ choice: 'bravo' });
    await eventually(() => allTo(url, 'bravo'), 'manual rotate to bravo');

    // bravo answers 401: the proxy blocks it, fails over to alpha, and writes the block.
    upstream!.setKey(KEYS.bravo, {
      chat: { status: 401, body: { error: { message: 'bad key' } } },
    });
    expect(await labelOf(url)).toBe('alpha');
    await eventually(
      async () => (await stateFile(config)).keys.bravo?.blocked_reason === 'auth',
      'block flushed',
    );
    upstream!.setKey(KEYS.bravo, {});
    expect((await kmi(['unblock', 'bravo'])).code).toBe(0);
    await eventually(() => allTo(url, 'bravo'), 'unblock picked up');

    // Later flushes (counters) never bring the cleared block back.
    for (let i = 0; i < 3; i++) {
      expect(await labelOf(url)).toBe('bravo');
      await new Promise((r) => setTimeout(r, 700));
    }
    const after = await stateFile(config);
    expect(after.keys.bravo).toMatchObject({ blocked_reason: null, blocked_until: null });

    // The same with doctor --clear-blocklist.
    upstream!.setKey(KEYS.bravo, {
      chat: { status: 401, body: { error: { message: 'bad key' } } },
    });
    expect(await labelOf(url)).toBe('alpha');
    await eventually(
      async () => (await stateFile(config)).keys.bravo?.blocked_reason === 'auth',
      'second block flushed',
    );
    upstream!.setKey(KEYS.bravo, {});
    await kmi(['doctor', '--clear-blocklist']); // exit code depends on other checks
    await eventually(() => allTo(url, 'bravo'), 'clear-blocklist picked up');
    await proxy!.close();
    expect((await stateFile(config)).keys.bravo!.blocked_reason).toBeNull();
  });

  it('loses no counter while CLI processes write the same state file', async () => {
    const { config, url } = await setup();
    expect((await kmi(['rotate', 'auto'])).code).toBe(0);
    let cliRuns = 0;
    let cliDone = false;
    const cli = (async () => {
      const commands = [
        ['unblock', '--all'],
        ['rotate', 'off'],
        ['rotate', 'auto'],
      ];
      for (let i = 0; i < 6; i++) {
        const r = await kmi(commands[i % commands.length]!);
        expect(r.code).toBe(0);
        cliRuns++;
      }
      cliDone = true;
    })();
    let sent = 0;
    const worker = async () => {
      // Keep sending while the CLI runs (and at least a few hundred requests).
      while (!cliDone || sent < 200) {
        sent++;
        await labelOf(url);
      }
    };
    await Promise.all([cli, worker(), worker(), worker(), worker()]);
    expect(cliRuns).toBe(6);
    await proxy!.close();
    const state = await stateFile(config);
    const total = Object.values(state.keys).reduce((sum, ks) => sum + ks.request_count, 0);
    expect(total).toBe(sent);
    const upstreamChats = upstream!.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(upstreamChats).toHaveLength(sent);
  });
});

describe('the built binary: kmi proxy --foreground', () => {
  it('follows kmi rotate auto/off from another process', async () => {
    const port = await freePort();
    sb = await makeSandbox({
      KMI_PROXY_LISTEN: `127.0.0.1:${port}`,
      KMI_AUTO_ROTATE_ALLOWED: '1',
      KMI_AUTO_ROTATE_E2E: '0',
    });
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${KEYS.alpha}\n`);
    await sb.writeAuth('bravo.env', `KMI_API_KEY=${KEYS.bravo}\n`);
    child = spawn(process.execPath, [KMI_BIN, 'proxy', '--foreground'], {
      cwd: sb.cwd,
      env: sb.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const url = `http://127.0.0.1:${port}/kmi-rotor/v1`;
    await eventually(async () => {
      try {
        return (await fetch(`${url}/_kmi/health`)).ok;
      } catch {
        return false;
      }
    }, 'proxy up');
    expect(await labelOf(url)).toBe('alpha');
    expect((await kmi(['rotate', 'auto'])).code).toBe(0);
    await eventually(async () => {
      const two = [await labelOf(url), await labelOf(url)];
      return two.includes('alpha') && two.includes('bravo');
    }, 'auto-rotate on');
    expect((await kmi(['rotate', 'off'])).code).toBe(0);
    await eventually(() => allTo(url, 'alpha'), 'auto-rotate off');
  });
});
