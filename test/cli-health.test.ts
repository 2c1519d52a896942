// End-to-end: `kmi --all`, `--current`, `--rotate` and `rotate auto|off` against the fake upstream, with the Kimi config written safely.
import { readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, usagePayload, type FakeUpstream } from './helpers/fake-upstream.js';
import { fakeKey, makeSandbox, runKmi, type Sandbox } from './helpers/kmi.js';

let upstream: FakeUpstream;
let sb: Sandbox;
let live: Record<string, string>;

beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => {
  await upstream.close();
});
beforeEach(async () => {
  sb = await makeSandbox();
  live = {
    KMI_DRY_RUN: '0',
    KMI_UPSTREAM_BASE_URL: upstream.url,
    KMI_KIMI_CONFIG_PATH: join(sb.home, '.kimi', 'config.toml'),
  };
});
afterEach(async () => {
  await sb.cleanup();
});

interface HealthJson {
  mode: string;
  checked: number;
  failed: number;
  current: string | null;
  next: string | null;
  keys: {
    label: string;
    status: string;
    five_hour_remaining_pct: number | null;
    weekly_remaining_pct: number | null;
    current: boolean;
    next: boolean;
    masked_key: string;
  }[];
}

describe('kmi --all', () => {
  it('reports 20 keys in mixed states with both windows, checking them concurrently', async () => {
    const kinds: Record<
      string,
      {
        behaviour: Parameters<FakeUpstream['setKey']>[1];
        status: string;
        five: number | null;
        weekly: number | null;
      }
    > = {};
    const plan = [
      ...Array.from({ length: 8 }, (_, i) => ({
        name: `ok${i}`,
        behaviour: {
          usages: {
            body: usagePayload({ weeklyRemaining: 50 + i, fiveHourRemaining: 60 + i }),
            delayMs: 150,
          },
        },
        status: 'healthy',
        five: 60 + i,
        weekly: 50 + i,
      })),
      {
        name: 'low5h',
        behaviour: {
          usages: { body: usagePayload({ weeklyRemaining: 80, fiveHourRemaining: 10 }) },
        },
        status: 'warn',
        five: 10,
        weekly: 80,
      },
      {
        name: 'lowweek',
        behaviour: {
          usages: { body: usagePayload({ weeklyRemaining: 5, fiveHourRemaining: 90 }) },
        },
        status: 'warn',
        five: 90,
        weekly: 5,
      },
      {
        name: 'empty5h',
        behaviour: {
          usages: { body: usagePayload({ weeklyRemaining: 70, fiveHourRemaining: 0 }) },
        },
        status: 'exhausted',
        five: 0,
        weekly: 70,
      },
      {
        name: 'emptyweek',
        behaviour: {
          usages: { body: usagePayload({ weeklyRemaining: 0, fiveHourRemaining: 100 }) },
        },
        status: 'exhausted',
        five: 100,
        weekly: 0,
      },
      {
        name: 'revoked',
        behaviour: {
          usages: { status: 401, body: { error: { message: 'Invalid Authentication' } } },
        },
        status: 'blocked',
        five: null,
        weekly: null,
      },
      {
        name: 'unpaid',
        behaviour: { usages: { status: 402, body: { error: { message: 'payment required' } } } },
        status: 'blocked',
        five: null,
        weekly: null,
      },
      {
        name: 'limited',
        behaviour: { usages: { status: 429, body: { error: { message: 'rate limit' } } } },
        status: 'exhausted',
        five: null,
        weekly: null,
      },
      {
        name: 'flaky',
        behaviour: { usages: { status: 503, body: 'upstream down' } },
        status: 'warn',
        five: null,
        weekly: null,
      },
      {
        name: 'mapshape',
        behaviour: {
          usages: {
            body: {
              usages: {
                limit_5h: {
                  used_ratio: '0.25',
                  reset_time: new Date(Date.now() + 3600_000).toISOString(),
                },
                limit_7d: {
                  used_ratio: '0.5',
                  reset_time: new Date(Date.now() + 86400_000).toISOString(),
                },
              },
            },
          },
        },
        status: 'healthy',
        five: 75,
        weekly: 50,
      },
      {
        name: 'garbage',
        behaviour: { usages: { body: '["not", "an", "object"]' } },
        status: 'warn',
        five: null,
        weekly: null,
      },
      {
        name: 'slow',
        behaviour: { usages: { body: usagePayload(), delayMs: 150 } },
        status: 'healthy',
        five: 90,
        weekly: 80,
      },
      { name: 'off', behaviour: {}, status: 'blocked', five: null, weekly: null },
    ];
    expect(plan).toHaveLength(20);
    for (const p of plan) {
      const key = fakeKey(p.name);
      upstream.setKey(key, p.behaviour);
      await sb.writeAuth(
        `${p.name}.env`,
        `KMI_API_KEY=${key}\n${p.name === 'off' ? 'KMI_KEY_DISABLED=1\n' : ''}`,
      );
      kinds[p.name] = p;
    }
    upstream.reset();
    const r = await runKmi(sb, ['--all', '--json'], { env: live });
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as HealthJson;
    expect(body.mode).toBe('live');
    expect(body.keys).toHaveLength(20);
    for (const row of body.keys) {
      const want = kinds[row.label];
      expect({ label: row.label, status: row.status }).toEqual({
        label: row.label,
        status: want?.status,
      });
      if (want?.five !== null)
        expect(Math.round(row.five_hour_remaining_pct ?? -1)).toBe(want?.five);
      if (want?.weekly !== null)
        expect(Math.round(row.weekly_remaining_pct ?? -1)).toBe(want?.weekly);
    }
    // 19 enabled keys, at most 8 at a time, and more than one at a time
    expect(upstream.maxInFlight).toBeGreaterThan(1);
    expect(upstream.maxInFlight).toBeLessThanOrEqual(8);
    // healthy rows come before warn, exhausted, blocked
    const order = body.keys.map((k) =>
      ['healthy', 'warn', 'exhausted', 'blocked'].indexOf(k.status),
    );
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    const state = JSON.parse(await readFile(join(sb.stateDir, 'state.json'), 'utf8')) as {
      last_health_refresh: string;
      keys: Record<
        string,
        {
          blocked_reason: string | null;
          exhausted_until: string | null;
          last_usage_at: string | null;
        }
      >;
    };
    expect(state.last_health_refresh).toMatch(/Z$/);
    expect(state.keys.revoked?.blocked_reason).toBe('auth');
    expect(state.keys.unpaid?.blocked_reason).toBe('payment');
    expect(state.keys.limited?.exhausted_until).not.toBeNull();
    expect(state.keys.ok0?.last_usage_at).not.toBeNull();
    expect(r.stdout).not.toMatch(/sk-[A-Za-z0-9]{20,}/);
  });

  it('prints a table with markers, in plain mode without box drawing, and in Russian', async () => {
    for (const name of ['alpha', 'bravo'])
      await sb.writeAuth(`${name}.env`, `KMI_API_KEY=${fakeKey(name)}\n`);
    const plain = await runKmi(sb, ['health', '--plain'], { env: live });
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toMatch(/[─│┌┐└┘├┤┬┴┼▶→]/);
    expect(plain.stdout).toContain('alpha');
    const ru = await runKmi(sb, ['--health'], { env: { ...live, KMI_LOCALE: 'ru' } });
    expect(ru.stdout).toMatch(/[А-Яа-я]{4,}/);
  });

  it('labels dry-run numbers as synthetic and sends nothing upstream', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    upstream.reset();
    const r = await runKmi(sb, ['--all']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('synthetic');
    expect(upstream.requests).toHaveLength(0);
  });

  it('exits 1 when there are no keys, or when no key could be checked', async () => {
    expect((await runKmi(sb, ['--all'], { env: live })).code).toBe(1);
    const key = fakeKey('down');
    upstream.setKey(key, { usages: { fault: 'reset-before-headers' } });
    await sb.writeAuth('down.env', `KMI_API_KEY=${key}\n`);
    const r = await runKmi(sb, ['--all'], { env: live });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no key could be checked');
  });
});

describe('kmi --rotate and --current', () => {
  it('picks the documented key, writes the Kimi config with a backup, and keeps the rest of the file', async () => {
    const keys = { alpha: fakeKey('alpha'), bravo: fakeKey('bravo'), charlie: fakeKey('charlie') };
    upstream.setKey(keys.alpha, {
      usages: { body: usagePayload({ weeklyRemaining: 30, fiveHourRemaining: 40 }) },
    });
    upstream.setKey(keys.bravo, {
      usages: { body: usagePayload({ weeklyRemaining: 90, fiveHourRemaining: 95 }) },
    });
    upstream.setKey(keys.charlie, {
      usages: { status: 401, body: { error: { message: 'invalid key' } } },
    });
    for (const [name, key] of Object.entries(keys))
      await sb.writeAuth(`${name}.env`, `KMI_API_KEY=${key}\n`);
    const configPath = live.KMI_KIMI_CONFIG_PATH as string;
    await mkdir(join(sb.home, '.kimi'), { recursive: true });
    const original = [
      'default_model = "kimi-k2"',
      'theme = "dark"',
      '',
      '[models.kimi-k2]',
      'provider = "my-kimi"',
      'model = "kimi-k2-turbo"',
      'max_context_size = 131072',
      '',
      '[providers.my-kimi]',
      'type = "kimi"',
      'base_url = "https://api.kimi.com/coding/v1"',
      `api_key = "${keys.alpha}"`,
      '',
      '[providers.other]',
      'type = "openai"',
      'api_key = "sk-other-provider-keep-me-0000"',
      '',
      '[services.moonshot_search]',
      `api_key = "${keys.alpha}"`,
      '',
      '[loop_control]',
      'max_steps = 42',
      '',
    ].join('\n');
    await writeFile(configPath, original, { mode: 0o644 });

    const current = await runKmi(sb, ['--current', '--json'], { env: live });
    expect((JSON.parse(current.stdout) as HealthJson).current).toBe('alpha');

    const r = await runKmi(sb, ['--rotate'], { env: live });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('bravo');
    const written = parse(await readFile(configPath, 'utf8')) as Record<string, any>;
    expect(written.providers['my-kimi'].api_key).toBe(keys.bravo);
    expect(written.services.moonshot_search.api_key).toBe(keys.bravo);
    expect(written.providers.other.api_key).toBe('sk-other-provider-keep-me-0000');
    expect(written.default_model).toBe('kimi-k2');
    expect(written.theme).toBe('dark');
    expect(Number(written.loop_control.max_steps)).toBe(42);
    expect(Number(written.models['kimi-k2'].max_context_size)).toBe(131072);
    expect((await stat(configPath)).mode & 0o777).toBe(0o600);
    const backups = (await readdir(join(sb.home, '.kimi'))).filter((f) =>
      f.startsWith('config.toml.kmi-backup-'),
    );
    expect(backups).toHaveLength(1);
    expect(await readFile(join(sb.home, '.kimi', backups[0] as string), 'utf8')).toBe(original);
    const state = JSON.parse(await readFile(join(sb.stateDir, 'state.json'), 'utf8')) as {
      active_label: string;
    };
    expect(state.active_label).toBe('bravo');
    expect(await readFile(join(sb.stateDir, 'logs', 'kmi.log'), 'utf8')).toContain(
      'kimi_config_written',
    );
    for (const key of Object.values(keys)) expect(r.stdout + r.stderr).not.toContain(key);
  });

  it('says plainly that nothing was written in dry-run or with KMI_WRITE_CONFIG=0', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    const dry = await runKmi(sb, ['rotate']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/dry-run/i);
    const off = await runKmi(sb, ['rotate'], { env: { ...live, KMI_WRITE_CONFIG: '0' } });
    expect(off.stdout).toContain('KMI_WRITE_CONFIG=0');
    await expect(stat(live.KMI_KIMI_CONFIG_PATH as string)).rejects.toThrow();
  });

  it('creates a minimal valid config when there is none', async () => {
    const key = fakeKey('alpha');
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${key}\n`);
    const r = await runKmi(sb, ['rotate'], { env: live });
    expect(r.code).toBe(0);
    const cfg = parse(await readFile(live.KMI_KIMI_CONFIG_PATH as string, 'utf8')) as Record<
      string,
      any
    >;
    expect(cfg.default_model).toBeTruthy();
    expect(cfg.providers['kimi-for-coding'].api_key).toBe(key);
  });

  it('leaves an unparsable config untouched and says why', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    await mkdir(join(sb.home, '.kimi'), { recursive: true });
    await writeFile(live.KMI_KIMI_CONFIG_PATH as string, '[providers\nbroken = ');
    const r = await runKmi(sb, ['rotate'], { env: live });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('config.toml');
    expect(await readFile(live.KMI_KIMI_CONFIG_PATH as string, 'utf8')).toBe(
      '[providers\nbroken = ',
    );
  });

  it('exits 1 and changes nothing when no key is eligible', async () => {
    const key = fakeKey('dead');
    upstream.setKey(key, { usages: { status: 401, body: { error: { message: 'invalid' } } } });
    await sb.writeAuth('dead.env', `KMI_API_KEY=${key}\n`);
    const r = await runKmi(sb, ['--rotate'], { env: live });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no eligible key');
    await expect(stat(live.KMI_KIMI_CONFIG_PATH as string)).rejects.toThrow();
  });
});

describe('kmi rotate auto|off', () => {
  it('refuses auto-rotation unless KMI_AUTO_ROTATE_ALLOWED=1', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    for (const args of [['rotate', 'auto'], ['--auto-rotate'], ['--auto_rotate']]) {
      const r = await runKmi(sb, args);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('KMI_AUTO_ROTATE_ALLOWED');
    }
  });

  it('switches auto-rotation on (e2e off) and off, audited', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    const on = await runKmi(sb, ['rotate', 'auto'], {
      env: { KMI_AUTO_ROTATE_ALLOWED: '1', KMI_AUTO_ROTATE_E2E: '0' },
    });
    expect(on.code).toBe(0);
    let state = JSON.parse(await readFile(join(sb.stateDir, 'state.json'), 'utf8')) as {
      auto_rotate: boolean;
    };
    expect(state.auto_rotate).toBe(true);
    const off = await runKmi(sb, ['rotate', 'off']);
    expect(off.code).toBe(0);
    state = JSON.parse(await readFile(join(sb.stateDir, 'state.json'), 'utf8')) as {
      auto_rotate: boolean;
    };
    expect(state.auto_rotate).toBe(false);
    const log = await readFile(join(sb.stateDir, 'logs', 'kmi.log'), 'utf8');
    expect(log).toContain('auto_rotate_on');
    expect(log).toContain('auto_rotate_off');
  });
});
