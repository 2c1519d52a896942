// End-to-end: the built `kmi` against a real, password-protected redis-server via KMI_STATE_URL — status, --all, rotate, unblock, doctor, migrate, outages; the password never printed.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StateBackend } from '../src/state/backend.js';
import { blockKey, keyState, markExhausted } from '../src/state/key-state.js';
import { openStateBackend } from '../src/state/open.js';
import type { State } from '../src/state/schema.js';
import {
  fakeKey,
  freePort,
  makeSandbox,
  runKmi,
  type RunResult,
  type Sandbox,
} from './helpers/kmi.js';
import { HAS_REDIS, startRedis, type RedisServer } from './helpers/redis.js';

const PASSWORD = 'red1s-Pa55-w0rd';

describe.skipIf(!HAS_REDIS)('kmi against the Redis state backend', () => {
  let redis: RedisServer;
  let sb: Sandbox;
  let db = 0;
  let url: string;
  const outputs: RunResult[] = [];
  const backends: StateBackend[] = [];

  beforeAll(async () => {
    redis = await startRedis({ password: PASSWORD });
  });
  afterAll(async () => {
    await redis?.stop();
    // No output of any command in this file shows the password.
    for (const r of outputs) expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });
  beforeEach(async () => {
    // Each test gets its own database of the server (0..15).
    db = (db + 1) % 16;
    url = redis.url.replace(/\/0$/, `/${db}`);
    sb = await makeSandbox({ KMI_STATE_URL: url });
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\nKMI_KEY_LABEL=alpha\n`);
    await sb.writeAuth('bravo.env', `KMI_API_KEY=${fakeKey('bravo')}\nKMI_KEY_LABEL=bravo\n`);
    const b = await direct();
    await b.update((s) => {
      for (const label of Object.keys(s.keys)) delete s.keys[label];
      s.auto_rotate = false;
      s.active_label = null;
      s.last_health_refresh = null;
    });
  });
  afterEach(async () => {
    await Promise.all(backends.splice(0).map((b) => b.close()));
    await sb.cleanup();
  });

  /** The Redis state as the test sees it, through the library (not through kmi). */
  async function direct(target = url): Promise<StateBackend> {
    const b = await openStateBackend({
      stateUrl: target,
      stateDir: join(sb.root, 'test-cache'),
      enforceFilePerms: true,
      stateFailOpen: false,
    });
    backends.push(b);
    return b;
  }

  async function kmi(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
    const r = await runKmi(sb, args, { env, timeoutMs: 30_000 });
    outputs.push(r);
    return r;
  }

  it('status reads blocks and cooldowns from Redis', async () => {
    await (
      await direct()
    ).update((s) => {
      blockKey(keyState(s, 'alpha'), 'auth', Date.now(), null);
      markExhausted(keyState(s, 'bravo'), Date.now() + 600_000);
    });
    const r = await kmi(['status', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { accounts: { label: string; state: string }[] };
    const by = Object.fromEntries(report.accounts.map((a) => [a.label, a.state]));
    expect(by).toEqual({ alpha: 'blocked', bravo: 'exhausted' });
    expect((await kmi(['status', '--plain'])).code).toBe(0);
  });

  it('--all (dry-run) saves the health refresh into Redis', async () => {
    const r = await kmi(['--all', '--json']);
    expect(r.code).toBe(0);
    const s = await (await direct()).read();
    expect(s.last_health_refresh).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('rotate auto / off switch auto-rotation in Redis; rotate picks the active key there', async () => {
    const env = { KMI_AUTO_ROTATE_ALLOWED: '1', KMI_AUTO_ROTATE_E2E: '0' };
    expect((await kmi(['rotate', 'auto'], env)).code).toBe(0);
    expect((await (await direct()).read()).auto_rotate).toBe(true);
    expect((await kmi(['rotate', 'off'], env)).code).toBe(0);
    expect((await (await direct()).read()).auto_rotate).toBe(false);
    const r = await kmi(['rotate', '--json']);
    expect(r.code).toBe(0);
    const choice = (JSON.parse(r.stdout) as { choice: string }).choice;
    expect((await (await direct()).read()).active_label).toBe(choice);
  });

  it('unblock lifts a block kept in Redis', async () => {
    await (
      await direct()
    ).update((s) => {
      blockKey(keyState(s, 'alpha'), 'payment', Date.now(), Date.now() + 3_600_000);
      markExhausted(keyState(s, 'alpha'), Date.now() + 600_000);
    });
    const r = await kmi(['unblock', 'alpha']);
    expect(r.code).toBe(0);
    const ks = (await (await direct()).read()).keys.alpha;
    expect(ks?.blocked_reason).toBeNull();
    expect(ks?.exhausted_until).toBeNull();
  });

  it('doctor reports the Redis backend (OK when up, FAIL with the fix when down)', async () => {
    const r = await kmi(['doctor', '--json']);
    const body = JSON.parse(r.stdout) as {
      checks: { id: string; status: string; message: string; fix: string | null }[];
    };
    const row = body.checks.find((c) => c.id === 'state-backend');
    expect(row?.status).toBe('ok');
    expect(row?.message).toContain('redis://:***@127.0.0.1');

    const dead = `redis://:${PASSWORD}@127.0.0.1:${await freePort()}/0`;
    const down = await kmi(['doctor', '--json'], {
      KMI_STATE_URL: dead,
      KMI_STATE_FAIL_OPEN: '1',
    });
    expect(down.code).toBe(1);
    const downBody = JSON.parse(down.stdout) as typeof body;
    const failed = downBody.checks.find((c) => c.id === 'state-backend');
    expect(failed?.status).toBe('fail');
    expect(failed?.fix).toContain('KMI_STATE_URL');

    // Without fail-open the report still comes out: the backend's own row carries the failure.
    const strict = await kmi(['doctor', '--json'], { KMI_STATE_URL: dead });
    expect(strict.code).toBe(1);
    const strictBody = JSON.parse(strict.stdout) as typeof body;
    expect(strictBody.checks.find((c) => c.id === 'state-backend')?.status).toBe('fail');
    expect(strict.stdout + strict.stderr).not.toContain(PASSWORD);
  });

  it('with Redis unreachable: a clear error naming KMI_STATE_URL (exit 1), or the cache with KMI_STATE_FAIL_OPEN=1', async () => {
    const dead = `redis://:${PASSWORD}@127.0.0.1:${await freePort()}/0`;
    const r = await kmi(['status'], { KMI_STATE_URL: dead });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('KMI_STATE_URL');
    expect(r.stderr).toContain('redis://:***@127.0.0.1');
    expect(r.stderr).toContain('KMI_STATE_FAIL_OPEN=1');

    const open = await kmi(['status', '--json'], { KMI_STATE_URL: dead, KMI_STATE_FAIL_OPEN: '1' });
    expect(open.code).toBe(0);
    expect(open.stderr).toContain('KMI_STATE_FAIL_OPEN=1');
    JSON.parse(open.stdout);

    const write = await kmi(['unblock', 'alpha'], {
      KMI_STATE_URL: dead,
      KMI_STATE_FAIL_OPEN: '1',
    });
    expect(write.code).toBe(1);
    expect(write.stderr).toContain('KMI_STATE_URL');
  });

  it('state migrate: file → Redis (refusing a used target without --force) → file, unchanged', async () => {
    const fileDir = join(sb.root, 'file-state');
    await mkdir(fileDir, { recursive: true });
    const original: State = {
      schema_version: 1,
      active_index: 1,
      active_label: 'bravo',
      rotation_index: 3,
      auto_rotate: true,
      last_health_refresh: '2026-01-02T03:04:05Z',
      python_extra: 'kept',
      keys: {
        alpha: {
          last_used: '2026-01-02T03:00:00Z',
          request_count: 17,
          error_401: 1,
          error_403: 0,
          error_429: 2,
          error_5xx: 0,
          exhausted_until: '2999-01-01T00:00:00Z',
          blocked_until: null,
          blocked_reason: null,
        },
        bravo: {
          last_used: null,
          request_count: 0,
          error_401: 0,
          error_403: 0,
          error_429: 0,
          error_5xx: 0,
          exhausted_until: null,
          blocked_until: null,
          blocked_reason: 'auth',
          blocked_at: '2026-01-01T00:00:00Z',
        },
      },
    };
    await writeFile(join(fileDir, 'state.json'), `${JSON.stringify(original, null, 2)}\n`);
    const fromFile = { KMI_STATE_URL: '', KMI_STATE_DIR: fileDir };

    const toRedis = await kmi(['state', 'migrate', '--to', url], fromFile);
    expect(toRedis.code).toBe(0);
    expect(toRedis.stdout).toContain('redis://:***@127.0.0.1');
    expect(await (await direct()).read()).toEqual(original);

    const again = await kmi(['state', 'migrate', '--to', url], fromFile);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('--force');
    expect((await kmi(['state', 'migrate', '--to', url, '--force'], fromFile)).code).toBe(0);

    const backDir = join(sb.root, 'back');
    const back = await kmi(['state', 'migrate', '--to', backDir, '--json']);
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ keys: 2, overwritten: false });
    const copied = JSON.parse(await readFile(join(backDir, 'state.json'), 'utf8')) as State;
    expect(copied).toEqual(original);

    expect((await kmi(['state', 'migrate', '--to', join(backDir, 'state.json')])).code).toBe(2);
    const bad = await kmi(['state', 'migrate', '--to', `http://:${PASSWORD}@example.com/`]);
    expect(bad.code).toBe(2);
    expect((await kmi(['state', 'migrate', '--to', url])).code).toBe(2); // same backend
  });
});
