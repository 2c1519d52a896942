// End-to-end: the built `kmi` binary in a sandbox — status, unblock, config errors, output switches.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeKey, freePort, KMI_BIN, makeSandbox, runKmi, type Sandbox } from './helpers/kmi.js';
import { within } from './helpers/proxy-harness.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await makeSandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

const BOX = /[─│┌┐└┘├┤┬┴┼▶✓✗]/;

describe('kmi status', () => {
  it('lists exactly the valid keys and warns about each broken file by name', async () => {
    const a = fakeKey('alpha');
    const b = fakeKey('bravo');
    const c = fakeKey('charl');
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${a}\nKMI_KEY_LABEL=alpha\n`);
    await sb.writeAuth(
      'bravo.toml',
      `[providers.kimi-for-coding]\ntype = "kimi"\nbase_url = "https://api.kimi.com/coding/v1"\napi_key = "${b}"\n`,
    );
    await sb.writeAuth('charlie.json', JSON.stringify({ api_key: c, label: 'charlie' }));
    await sb.writeAuth('nullkey.json', JSON.stringify({ api_key: null }));
    await sb.writeAuth('broken.toml', '[providers\napi_key = ');
    await sb.writeAuth('empty.env', 'KMI_KEY_LABEL=empty\n');

    const r = await runKmi(sb, ['status', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      mode: string;
      keys: { total: number };
      accounts: { label: string; masked_key: string }[];
      warnings: { file: string; message: string }[];
    };
    expect(report.mode).toBe('dry-run');
    expect(report.accounts.map((x) => x.label).sort()).toEqual(['alpha', 'bravo', 'charlie']);
    expect(report.keys.total).toBe(3);
    const warned = report.warnings.map((w) => w.file.split('/').pop()).sort();
    expect(warned).toEqual(['broken.toml', 'empty.env', 'nullkey.json']);
    for (const w of report.warnings) expect(w.message.length).toBeGreaterThan(5);
    for (const key of [a, b, c]) {
      expect(r.stdout).not.toContain(key);
      expect(r.stderr).not.toContain(key);
    }
    expect(report.accounts.find((x) => x.label === 'alpha')?.masked_key).toBe(
      `${a.slice(0, 4)}…${a.slice(-4)}`,
    );
  });

  it('prints the mode banner, the active key and the state path for people', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    const r = await runKmi(sb, ['status', '--plain']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('MODE: DRY-RUN (upstream requests are simulated).');
    expect(r.stdout).toContain('alpha');
    expect(r.stdout).toContain(join(sb.stateDir, 'state.json'));
    expect(r.stdout).not.toMatch(BOX);
    expect(r.stdout).not.toMatch(/\u001b\[/);
  });

  it('--status is the same as status, and live mode says so', async () => {
    const r = await runKmi(sb, ['--status'], { env: { KMI_DRY_RUN: '0' } });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('MODE: LIVE (upstream requests enabled).');
  });

  it('speaks Russian under KMI_LOCALE=ru', async () => {
    const r = await runKmi(sb, ['status'], { env: { KMI_LOCALE: 'ru' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/РЕЖИМ/);
    expect(r.stdout).toMatch(/Файл состояния/);
  });

  it('honours KMI_PLAIN and NO_COLOR', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    const plain = await runKmi(sb, ['status'], { env: { KMI_PLAIN: '1' } });
    expect(plain.stdout).not.toMatch(BOX);
    const boxed = await runKmi(sb, ['status']);
    expect(boxed.stdout).toMatch(BOX);
    const noColor = await runKmi(sb, ['status'], { env: { NO_COLOR: '1' } });
    expect(noColor.stdout).not.toMatch(/\u001b\[/);
  });

  it('works with no keys at all and says where it looked', async () => {
    const r = await runKmi(sb, ['status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(sb.authsDir);
  });

  it('moves a corrupt state file aside, reports it, and carries on', async () => {
    await mkdir(sb.stateDir, { recursive: true });
    await writeFile(join(sb.stateDir, 'state.json'), '{"schema_version": 1, "keys": {');
    const r = await runKmi(sb, ['status', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('state.json');
    const files = await readdir(sb.stateDir);
    const aside = files.find((f) => f.startsWith('state.json.corrupt-'));
    expect(aside).toBeDefined();
    expect(await readFile(join(sb.stateDir, aside as string), 'utf8')).toBe(
      '{"schema_version": 1, "keys": {',
    );
  });
});

describe('configuration errors', () => {
  it('stop with one line naming the variable, and exit 2', async () => {
    const r = await runKmi(sb, ['status'], { env: { KMI_PROXY_MAX_RPS: 'ten' } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('kmi: KMI_PROXY_MAX_RPS must be a whole number ≥ 0 (got "ten")');
    expect(r.stdout).toBe('');
  });

  it('are JSON under --json', async () => {
    const r = await runKmi(sb, ['status', '--json'], { env: { KMI_TIMEZONE: 'Nowhere/Land' } });
    expect(r.code).toBe(2);
    const body = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('KMI_E_CONFIG');
    expect(body.error.message).toContain('KMI_TIMEZONE');
  });

  it('report malformed .env lines with file:line and go on', async () => {
    await writeFile(join(sb.cwd, '.env'), 'KMI_LOCALE=en\nthis line is wrong\n');
    const r = await runKmi(sb, ['status']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${join(sb.cwd, '.env')}:2`);
  });

  it('are translated under ru', async () => {
    const r = await runKmi(sb, ['status'], { env: { KMI_LOCALE: 'ru', KMI_LOG_BACKUPS: '-1' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('KMI_LOG_BACKUPS должна быть целым числом');
  });
});

describe('command line', () => {
  it('suggests the closest command for a typo', async () => {
    const r = await runKmi(sb, ['stauts']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("did you mean 'status'");
  });

  it('suggests the closest option for a typo', async () => {
    const r = await runKmi(sb, ['status', '--jsno']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'--json'");
  });

  it('prints help and version', async () => {
    const help = await runKmi(sb, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('status');
    expect(help.stdout).toContain('unblock');
    const version = await runKmi(sb, ['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('kmi unblock', () => {
  it('clears a block and a cooldown, and audits it', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    await sb.writeAuth('bravo.env', `KMI_API_KEY=${fakeKey('bravo')}\n`);
    await sb.writeState({
      custom_field: 'kept',
      keys: {
        alpha: {
          request_count: 5,
          error_401: 1,
          blocked_reason: 'auth',
          blocked_until: null,
          exhausted_until: null,
        },
        bravo: { request_count: 2, exhausted_until: '2999-01-01T00:00:00Z' },
      },
    });
    const before = await runKmi(sb, ['status', '--json']);
    const states = (JSON.parse(before.stdout) as { accounts: { label: string; state: string }[] })
      .accounts;
    expect(states).toEqual([
      expect.objectContaining({ label: 'alpha', state: 'blocked' }),
      expect.objectContaining({ label: 'bravo', state: 'exhausted' }),
    ]);

    const one = await runKmi(sb, ['unblock', 'alpha']);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('alpha');
    const all = await runKmi(sb, ['unblock', '--all']);
    expect(all.code).toBe(0);

    const state = JSON.parse(await readFile(join(sb.stateDir, 'state.json'), 'utf8')) as Record<
      string,
      any
    >;
    expect(state.custom_field).toBe('kept');
    expect(state.keys.alpha.blocked_reason).toBeNull();
    expect(state.keys.alpha.request_count).toBe(5);
    expect(state.keys.bravo.exhausted_until).toBeNull();
    const log = await readFile(join(sb.stateDir, 'logs', 'kmi.log'), 'utf8');
    expect(log).toContain('unblock');
    expect(log).toContain('tester');
  });

  it('names the closest label for an unknown one and exits 1', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    const r = await runKmi(sb, ['unblock', 'alpah']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("'alpha'");
  });

  it('needs a label or --all', async () => {
    const r = await runKmi(sb, ['unblock']);
    expect(r.code).toBe(2);
  });
});

describe('KMI_TIMEZONE', () => {
  it('shows state times in the configured zone', async () => {
    await sb.writeState({
      last_health_refresh: '2026-03-01T10:00:00Z',
      keys: {},
    });
    const utc = await runKmi(sb, ['status', '--plain']);
    expect(utc.stdout).toContain('2026-03-01 10:00 +0000');
    const msk = await runKmi(sb, ['status', '--plain'], { env: { KMI_TIMEZONE: '+03:00' } });
    expect(msk.stdout).toContain('2026-03-01 13:00 +0300');
    const ny = await runKmi(sb, ['status', '--plain'], {
      env: { KMI_TIMEZONE: 'America/New_York' },
    });
    expect(ny.stdout).toContain('2026-03-01 05:00 -0500');
  });
});

describe('the no-leak guard on every spawned command', () => {
  it('fails a run whose output contains a key handed to the test', async () => {
    const key = fakeKey('guard');
    // A file named after a key makes the key its label, which status prints: the guard must catch it.
    await sb.writeAuth(`${key}.env`, `KMI_API_KEY=${fakeKey('other')}\n`);
    await expect(runKmi(sb, ['status'])).rejects.toThrow(/printed a full key/);
  });

  it('never echoes a key typed where a label belongs', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    const r = await runKmi(sb, ['unblock', fakeKey('typed')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('…');
  });
});

describe('kmi status and a running proxy', () => {
  let child: ChildProcess | null = null;
  afterEach(async () => {
    if (child !== null && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await within(exited, 15_000, 'proxy exit').catch(() => child?.kill('SIGKILL'));
    }
    child = null;
  });

  it('has live: null and no dashboard when no proxy runs', async () => {
    const port = await freePort();
    const r = await runKmi(sb, ['status', '--json'], {
      env: { KMI_PROXY_LISTEN: `127.0.0.1:${port}` },
    });
    const report = JSON.parse(r.stdout) as { live: unknown; proxy: Record<string, unknown> };
    expect(report.live).toBeNull();
    expect(report.proxy).toMatchObject({ running: false, dashboard_url: null, pids: [] });
  });

  it("shows the proxy's live view: per-key state, cooldown ends in KMI_TIMEZONE, last refresh, dashboard", async () => {
    const port = await freePort();
    const env = { KMI_PROXY_LISTEN: `127.0.0.1:${port}` };
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    await sb.writeAuth('bravo.env', `KMI_API_KEY=${fakeKey('bravo')}\n`);
    await sb.writeState({
      keys: { bravo: { request_count: 3, exhausted_until: '2999-01-01T00:00:00Z' } },
    });
    child = spawn(process.execPath, [KMI_BIN, 'proxy', '--foreground'], {
      cwd: sb.cwd,
      env: { ...sb.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const url = `http://127.0.0.1:${port}/kmi-rotor/v1`;
    type Live = {
      pid: number;
      dashboard_url: string;
      usage_refresh: { last_at: string | null; interval_s: number };
      keys: { label: string; state: string; available_at: string | null; request_count: number }[];
    };
    let live: Live | null = null;
    let report: { proxy: Record<string, unknown>; live: Live | null } | null = null;
    // Wait until the proxy answers and its first (dry-run, synthetic) refresh is done.
    await within(
      (async () => {
        for (;;) {
          const r = await runKmi(sb, ['status', '--json'], { env });
          report = JSON.parse(r.stdout) as typeof report;
          live = report!.live;
          if (live !== null && live.usage_refresh.last_at !== null) return;
          await new Promise((res) => setTimeout(res, 200));
        }
      })(),
      20_000,
      'proxy live view',
    );
    expect(report!.proxy).toMatchObject({
      running: true,
      url,
      pids: [live!.pid],
      dashboard_url: `${url}/_kmi/ui`,
    });
    expect(live!.dashboard_url).toBe(`${url}/_kmi/ui`);
    expect(live!.usage_refresh.interval_s).toBe(600);
    expect(live!.keys).toEqual([
      expect.objectContaining({ label: 'alpha', state: 'ok', available_at: null }),
      expect.objectContaining({
        label: 'bravo',
        state: 'exhausted',
        available_at: '2999-01-01T00:00:00Z',
        request_count: 3,
      }),
    ]);

    const text = await runKmi(sb, ['status', '--plain'], {
      env: { ...env, KMI_TIMEZONE: '+03:00' },
    });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${url}/_kmi/ui`);
    expect(text.stdout).toMatch(
      /Usage refresh\s+every 600 s; last \d{4}-\d\d-\d\d \d\d:\d\d \+0300: 2 ok, 0 failed/,
    );
    expect(text.stdout).toMatch(/bravo\s+\S+\s+exhausted\s+2999-01-01 03:00 \+0300/);
    expect(text.stdout).toMatch(/alpha\s+\S+\s+ok\s/);
  });
});
