import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KmiError } from '../errors.js';
import { t } from '../ui/i18n/index.js';
import { loadConfig } from './load.js';
import { VARIABLES } from './schema.js';

function sandbox() {
  const root = mkdtempSync(join(tmpdir(), 'kmi-config-'));
  const home = join(root, 'home');
  const cwd = join(root, 'cwd');
  mkdirSync(home);
  mkdirSync(cwd);
  return { root, home, cwd };
}

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof KmiError) return t(err.messageKey, err.params);
    throw err;
  }
  throw new Error('expected a KmiError');
}

describe('loadConfig', () => {
  it('applies every default', () => {
    const s = sandbox();
    const { config } = loadConfig({ env: { HOME: s.home }, cwd: s.cwd });
    expect(config).toMatchObject({
      envFile: null,
      authsDir: join(s.home, '.kimi', '_auths'),
      authsDirSource: 'home',
      stateDir: join(s.home, '.kmi'),
      dryRun: true,
      upstreamBaseUrl: 'https://api.kimi.com/coding/v1',
      proxyListen: { host: '127.0.0.1', port: 54123 },
      proxyBasePath: '/kmi-rotor/v1',
      proxyRequireTls: true,
      proxyFailoverMax: 3,
      proxyMaxBodyBytes: 32 * 1024 * 1024,
      rotationCooldownSeconds: 300,
      paymentBlockSeconds: 3600,
      usageCacheSeconds: 600,
      failOpenOnEmptyCache: true,
      blocklistRecheckSeconds: 3600,
      blocklistRecheckMax: 3,
      autoRotateE2e: true,
      rotateOnTie: true,
      writeConfig: true,
      kimiConfigPath: join(s.home, '.kimi', 'config.toml'),
      timezone: 'local',
      locale: 'en',
      enforceFilePerms: true,
      auditActor: 'unknown',
      tracePrompts: true,
      upstreamTimeoutMs: 600_000,
      stateUrl: '',
    });
  });

  it('uses ./_auths when it exists, else ~/.kimi/_auths', () => {
    const s = sandbox();
    mkdirSync(join(s.cwd, '_auths'));
    expect(loadConfig({ env: { HOME: s.home }, cwd: s.cwd }).config).toMatchObject({
      authsDir: join(s.cwd, '_auths'),
      authsDirSource: 'cwd',
    });
  });

  it('treats an empty value as the default (not as "off")', () => {
    const s = sandbox();
    expect(loadConfig({ env: { HOME: s.home, KMI_DRY_RUN: '' }, cwd: s.cwd }).config.dryRun).toBe(
      true,
    );
  });

  it('accepts every boolean spelling', () => {
    const s = sandbox();
    for (const [raw, value] of [
      ['YES', true],
      ['off', false],
      ['True', true],
      ['0', false],
    ] as const) {
      expect(
        loadConfig({ env: { HOME: s.home, KMI_DRY_RUN: raw }, cwd: s.cwd }).config.dryRun,
      ).toBe(value);
    }
  });

  it('names the variable, the accepted form and the value when one is invalid', () => {
    const s = sandbox();
    expect(
      failure(() => loadConfig({ env: { HOME: s.home, KMI_PROXY_MAX_RPS: 'ten' }, cwd: s.cwd })),
    ).toBe('KMI_PROXY_MAX_RPS must be a whole number ≥ 0 (got "ten")');
    expect(
      failure(() => loadConfig({ env: { HOME: s.home, KMI_DRY_RUN: 'maybe' }, cwd: s.cwd })),
    ).toContain('KMI_DRY_RUN must be one of');
    expect(
      failure(() =>
        loadConfig({ env: { HOME: s.home, KMI_TIMEZONE: 'Mars/Olympus' }, cwd: s.cwd }),
      ),
    ).toContain('KMI_TIMEZONE');
    expect(
      failure(() =>
        loadConfig({ env: { HOME: s.home, KMI_PROXY_LISTEN: 'localhost' }, cwd: s.cwd }),
      ),
    ).toContain('host:port');
    expect(
      failure(() => loadConfig({ env: { HOME: s.home, KMI_PROXY_BASE_PATH: 'v1' }, cwd: s.cwd })),
    ).toContain('KMI_PROXY_BASE_PATH');
    expect(
      failure(() => loadConfig({ env: { HOME: s.home, KMI_LOCALE: 'de' }, cwd: s.cwd })),
    ).toContain('en or ru');
    expect(
      failure(() =>
        loadConfig({
          env: { HOME: s.home, KMI_UPSTREAM_BASE_URL: 'http://api.kimi.com/v1' },
          cwd: s.cwd,
        }),
      ),
    ).toContain('https://');
    expect(
      failure(() =>
        loadConfig({ env: { HOME: s.home, KMI_STATE_URL: 'postgres://x' }, cwd: s.cwd }),
      ),
    ).toContain('KMI_STATE_URL');
  });

  it('never echoes a secret variable in its error', () => {
    const s = sandbox();
    const msg = failure(() =>
      loadConfig({
        env: { HOME: s.home, KMI_STATE_URL: 'mysql://user:hunter2secret@db' },
        cwd: s.cwd,
      }),
    );
    expect(msg).not.toContain('hunter2secret');
  });

  it('enforces the allowlist on the upstream at start-up', () => {
    const s = sandbox();
    expect(
      failure(() =>
        loadConfig({ env: { HOME: s.home, KMI_UPSTREAM_ALLOWLIST: '*.moonshot.cn' }, cwd: s.cwd }),
      ),
    ).toContain('KMI_UPSTREAM_ALLOWLIST');
    expect(
      loadConfig({
        env: { HOME: s.home, KMI_UPSTREAM_ALLOWLIST: 'api.kimi.com, *.moonshot.cn' },
        cwd: s.cwd,
      }).config.upstreamAllowlist,
    ).toEqual(['api.kimi.com', '*.moonshot.cn']);
  });

  it('lets the environment win over ./.env, and KMI_ENV_PATH win over the environment', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, '.env'), 'KMI_PROXY_MAX_RPS=5\nKMI_LOG_BACKUPS=7\n');
    const local = loadConfig({ env: { HOME: s.home, KMI_PROXY_MAX_RPS: '9' }, cwd: s.cwd });
    expect(local.config.envFile).toBe(join(s.cwd, '.env'));
    expect(local.config.proxyMaxRps).toBe(9);
    expect(local.config.logBackups).toBe(7);

    const explicit = join(s.root, 'explicit.env');
    writeFileSync(explicit, 'KMI_PROXY_MAX_RPS=5\n');
    const forced = loadConfig({
      env: { HOME: s.home, KMI_ENV_PATH: explicit, KMI_PROXY_MAX_RPS: '9' },
      cwd: s.cwd,
    });
    expect(forced.config.envFile).toBe(explicit);
    expect(forced.config.proxyMaxRps).toBe(5);
  });

  it('falls back to the .env of the installation folder', () => {
    const s = sandbox();
    const install = join(s.root, 'install');
    mkdirSync(install);
    writeFileSync(join(install, '.env'), 'KMI_LOCALE=ru\n');
    const { config } = loadConfig({ env: { HOME: s.home }, cwd: s.cwd, installDir: install });
    expect(config.locale).toBe('ru');
    expect(config.envFile).toBe(join(install, '.env'));
  });

  it('stops when KMI_ENV_PATH names a missing file', () => {
    const s = sandbox();
    expect(
      failure(() =>
        loadConfig({ env: { HOME: s.home, KMI_ENV_PATH: join(s.root, 'nope.env') }, cwd: s.cwd }),
      ),
    ).toContain('KMI_ENV_PATH');
  });

  it('reports malformed .env lines with file and line', () => {
    const s = sandbox();
    writeFileSync(join(s.cwd, '.env'), 'KMI_LOCALE=en\nnot valid\n');
    const { warnings } = loadConfig({ env: { HOME: s.home }, cwd: s.cwd });
    expect(warnings).toEqual([{ file: join(s.cwd, '.env'), line: 2, text: 'not valid' }]);
  });

  it('accepts every timezone form', () => {
    const s = sandbox();
    for (const tz of ['local', 'UTC', '+03:00', '-05:30', 'Europe/Moscow']) {
      expect(
        loadConfig({ env: { HOME: s.home, KMI_TIMEZONE: tz }, cwd: s.cwd }).config.timezone,
      ).toBeTruthy();
    }
  });

  it('parses IPv6 listen addresses and the root base path', () => {
    const s = sandbox();
    const { config } = loadConfig({
      env: { HOME: s.home, KMI_PROXY_LISTEN: '[::1]:9000', KMI_PROXY_BASE_PATH: '/' },
      cwd: s.cwd,
    });
    expect(config.proxyListen).toEqual({ host: '::1', port: 9000 });
    expect(config.proxyBasePath).toBe('/');
  });

  it('documents every variable once', () => {
    const names = VARIABLES.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const v of VARIABLES) expect(v.name).toMatch(/^KMI_[A-Z0-9_]+$/);
  });
});
