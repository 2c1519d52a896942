// End-to-end: `kmi doctor` on healthy and broken set-ups, its JSON, blocklist clearing and live recheck.
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.js';
import { fakeKey, makeSandbox, runKmi, type Sandbox } from './helpers/kmi.js';

let sb: Sandbox;
let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => {
  await upstream.close();
});
beforeEach(async () => {
  sb = await makeSandbox({ KMI_PROXY_LISTEN: '127.0.0.1:9' });
});
afterEach(async () => {
  await sb.cleanup();
});

interface DoctorJson {
  ok: boolean;
  checks: { id: string; status: string; message: string; fix: string | null }[];
  rechecked: { label: string; unblocked: boolean; payment_held: boolean; ok: boolean }[] | null;
  cleared: string[] | null;
}

function writeState(keys: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return sb.writeState({ keys, ...extra });
}

describe('kmi doctor', () => {
  it('passes (exit 0) on a working set-up, warning about the stopped proxy, and never prints a key', async () => {
    const key = fakeKey('alpha');
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${key}\n`);
    await chmod(join(sb.authsDir, 'alpha.env'), 0o600);
    const r = await runKmi(sb, ['doctor']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^WARN proxy is not running/m);
    expect(r.stdout).toMatch(/^OK {3}1 of 1 keys can serve/m);
    expect(r.stdout + r.stderr).not.toContain(key);

    const j = await runKmi(sb, ['doctor', '--json']);
    const body = JSON.parse(j.stdout) as DoctorJson;
    expect(body.ok).toBe(true);
    expect(body.checks.find((c) => c.id === 'proxy')?.status).toBe('warn');
    expect(j.stdout).not.toContain(key);
  });

  it('fails (exit 1) with no keys, naming the fix', async () => {
    const r = await runKmi(sb, ['doctor', '--json']);
    expect(r.code).toBe(1);
    const body = JSON.parse(r.stdout) as DoctorJson;
    expect(body.ok).toBe(false);
    const row = body.checks.find((c) => c.id === 'keys');
    expect(row?.status).toBe('fail');
    expect(row?.fix).toContain(sb.authsDir);
  });

  it('warns about loose permissions with the exact chmod when kmi may not fix them itself', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    await writeState({});
    await chmod(join(sb.stateDir, 'state.json'), 0o644);
    const r = await runKmi(sb, ['doctor'], { env: { KMI_ENFORCE_FILE_PERMS: '0' } });
    expect(r.stdout).toContain(`WARN ${join(sb.stateDir, 'state.json')} has mode 0644`);
    expect(r.stdout).toContain(`chmod 600 ${join(sb.stateDir, 'state.json')}`);
  });

  it('with enforcement on, tightens a loose state file instead of failing', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    await writeState({});
    await chmod(join(sb.stateDir, 'state.json'), 0o644);
    const r = await runKmi(sb, ['doctor']);
    expect(r.stdout).toContain(`OK   ${join(sb.stateDir, 'state.json')} has mode 0600`);
  });

  it('fails when auto-rotate is on without the policy allowing it', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    await writeState({}, { auto_rotate: true });
    const r = await runKmi(sb, ['doctor']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /FAIL auto-rotate is on in state but KMI_AUTO_ROTATE_ALLOWED is not 1/,
    );
  });

  it('warns about each broken auth file by name', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    await sb.writeAuth('broken.json', '{not json');
    const r = await runKmi(sb, ['doctor', '--plain']);
    expect(r.stdout).toMatch(/WARN .*broken\.json/);
  });

  it('--clear-blocklist clears every block and audits it', async () => {
    await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
    await sb.writeAuth('bravo.env', `KMI_API_KEY=${fakeKey('bravo')}\n`);
    await writeState({
      alpha: { blocked_reason: 'auth', blocked_until: null },
      bravo: { blocked_reason: 'payment', blocked_until: '2999-01-01T00:00:00Z' },
    });
    const r = await runKmi(sb, ['doctor', '--clear-blocklist', '--json']);
    const body = JSON.parse(r.stdout) as DoctorJson;
    expect(body.cleared?.sort()).toEqual(['alpha', 'bravo']);
    const state = JSON.parse(await readFile(join(sb.stateDir, 'state.json'), 'utf8')) as {
      keys: Record<string, { blocked_reason: unknown }>;
    };
    expect(state.keys.alpha?.blocked_reason).toBeNull();
    expect(state.keys.bravo?.blocked_reason).toBeNull();
    expect(await readFile(join(sb.stateDir, 'logs', 'kmi.log'), 'utf8')).toContain(
      'blocklist_cleared',
    );
  });

  it('--recheck-keys unblocks keys whose /usages answers, keeps failing ones and unexpired payment blocks', async () => {
    const good = fakeKey('good');
    const bad = fakeKey('bad');
    const paid = fakeKey('paid');
    upstream.setKey(bad, {
      usages: { status: 401, body: { error: { message: 'invalid api key' } } },
    });
    await sb.writeAuth('good.env', `KMI_API_KEY=${good}\n`);
    await sb.writeAuth('bad.env', `KMI_API_KEY=${bad}\n`);
    await sb.writeAuth('paid.env', `KMI_API_KEY=${paid}\n`);
    await writeState({
      good: { blocked_reason: 'auth', blocked_until: null },
      bad: { blocked_reason: 'auth', blocked_until: null },
      paid: { blocked_reason: 'payment', blocked_until: '2999-01-01T00:00:00Z' },
    });
    const r = await runKmi(sb, ['doctor', '--recheck-keys', '--json'], {
      env: { KMI_DRY_RUN: '0', KMI_UPSTREAM_BASE_URL: upstream.url },
    });
    const body = JSON.parse(r.stdout) as DoctorJson;
    const by = Object.fromEntries((body.rechecked ?? []).map((x) => [x.label, x]));
    expect(by.good).toMatchObject({ ok: true, unblocked: true });
    expect(by.bad).toMatchObject({ ok: false, unblocked: false });
    expect(by.paid).toMatchObject({ ok: true, unblocked: false, payment_held: true });
    for (const k of [good, bad, paid]) expect(r.stdout + r.stderr).not.toContain(k);
    const state = JSON.parse(await readFile(join(sb.stateDir, 'state.json'), 'utf8')) as {
      keys: Record<string, { blocked_reason: unknown }>;
    };
    expect(state.keys.good?.blocked_reason).toBeNull();
    expect(state.keys.bad?.blocked_reason).toBe('auth');
    expect(state.keys.paid?.blocked_reason).toBe('payment');
  });
});
