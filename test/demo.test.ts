// End-to-end: `kmi demo` — three demo keys, a simulated upstream with a 429 and a 402, the real proxy, failovers, cleanup.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KMI_BIN, fakeKey, freePort, makeSandbox, runKmi, type Sandbox } from './helpers/kmi.js';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.js';

let sb: Sandbox;
let tmp: string;
const children: ChildProcess[] = [];
beforeEach(async () => {
  sb = await makeSandbox();
  // The demo's temp folder goes under $TMPDIR: a private one shows exactly what it leaves behind.
  tmp = join(sb.root, 'tmp');
  await mkdir(tmp);
  sb.env.TMPDIR = tmp;
});
afterEach(async () => {
  for (const c of children.splice(0))
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await sb.cleanup();
});

/** Everything under `dir`, as paths relative to it (empty when the folder does not exist). */
async function listTree(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

interface DemoJson {
  mode: string;
  url: string;
  temp_dir: string;
  requests: { sent: number; ok: number; failed: number };
  keys: { label: string; masked_key: string; requests: number; errors: number; state: string }[];
  failovers: { n: number; from: { label: string; fault: string }[]; to: string; status: number }[];
  confidence: { value: number | null; sample: number; eligible: string[] };
  trace: { request_id: string; key_label: string; dry_run: boolean }[];
  next_steps: { text: string; commands: string[] }[];
  kept: boolean;
  cleaned_up: boolean;
}

describe('kmi demo', () => {
  it('runs the proxy over three demo keys, fails over from the 429 and 402 keys, prints the report and cleans up', async () => {
    const started = Date.now();
    const r = await runKmi(sb, ['demo', '--plain'], { timeoutMs: 20_000 });
    const elapsed = Date.now() - started;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(elapsed).toBeLessThan(10_000);
    const out = r.stdout;
    expect(out.split('\n')[0]).toBe('MODE: DRY-RUN (upstream requests are simulated).');
    expect(out).toContain('20 of 20 requests got a correct answer');

    // the per-key table: one row per demo key, with masked key, requests, errors and state
    const rows = out
      .split('\n')
      .filter((l) => /^(alpha|bravo|charlie)\s+sk-k…[0-9a-f]{4}\s+\d+\s+\d+\s+\S/.test(l));
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(['alpha', 'bravo', 'charlie']);
    const row = (label: string) => rows.find((l) => l.startsWith(label)) as string;
    expect(row('alpha')).toMatch(/\s+0\s+ok$/);
    expect(row('bravo')).toMatch(/\s+1\s+cooling down until /);
    expect(row('charlie')).toMatch(/\s+1\s+blocked \(payment\) until /);

    // the failovers, from the trace
    expect(out).toMatch(
      /#\d+ POST \/\S+: bravo 429 \(rate limited\) → served by (alpha|charlie) \(200\)/,
    );
    expect(out).toMatch(
      /#\d+ \S+ \/\S+: charlie 402 \(payment required\) → served by alpha \(200\)/,
    );
    // the trace: 20 records, a streaming one among them
    expect(out).toContain('POST /chat/completions (stream)');
    expect(out).toMatch(/^20\s+\d\d:\d\d:\d\d\s+POST/m);
    expect(out).toMatch(/Rotation confidence: \d+\.\d%/);
    // next steps for real keys
    expect(out).toContain('_auths/alpha.env');
    expect(out).toContain('KMI_DRY_RUN=0 kmi proxy');
    expect(out).toContain('OPENAI_BASE_URL=http://127.0.0.1:54123/kmi-rotor/v1');
    expect(out).toContain('Demo finished: proxy stopped, temporary folder removed.');

    // nothing left behind, nothing written to the user's folders
    expect(await listTree(tmp)).toEqual([]);
    expect(existsSync(join(sb.home, '.kmi'))).toBe(false);
    expect(existsSync(join(sb.home, '.kimi'))).toBe(false);
    expect(existsSync(sb.stateDir)).toBe(false);
    expect(await listTree(sb.authsDir)).toEqual([]);
  });

  it('--json prints a summary whose temp folder is gone afterwards', async () => {
    const r = await runKmi(sb, ['demo', '--json'], { timeoutMs: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as DemoJson;
    expect(j.mode).toBe('dry-run');
    expect(j.requests).toEqual({ sent: 20, ok: 20, failed: 0 });
    expect(j.keys.map((k) => k.label)).toEqual(['alpha', 'bravo', 'charlie']);
    expect(j.keys.map((k) => k.state)).toEqual(['ok', 'exhausted', 'blocked']);
    expect(j.keys.reduce((s, k) => s + k.requests, 0)).toBe(22); // 20 requests + 2 failovers
    const faults = j.failovers.flatMap((f) => f.from.map((x) => `${x.label}:${x.fault}`));
    expect(faults).toEqual(['bravo:429', 'charlie:402']);
    for (const f of j.failovers) expect(f.status).toBe(200);
    expect(j.trace).toHaveLength(20);
    expect(j.trace.every((t) => t.dry_run)).toBe(true);
    expect(typeof j.confidence.value).toBe('number');
    expect(j.confidence.eligible).toEqual(['alpha']);
    expect(j.next_steps.flatMap((s) => s.commands)).toContain('KMI_DRY_RUN=0 kmi proxy');
    expect(j.kept).toBe(false);
    expect(j.cleaned_up).toBe(true);
    expect(j.temp_dir.startsWith(join(tmp, 'kmi-demo-'))).toBe(true);
    expect(existsSync(j.temp_dir)).toBe(false);
    expect(await listTree(tmp)).toEqual([]);
  });

  it('ignores live settings in the environment: no upstream call, no write to the real state or auth folder', async () => {
    const upstream: FakeUpstream = await startFakeUpstream();
    try {
      const key = fakeKey('live');
      await sb.writeAuth('live.env', `KMI_API_KEY=${key}\n`);
      const before = await listTree(sb.authsDir);
      const r = await runKmi(sb, ['demo', '--json'], {
        timeoutMs: 20_000,
        env: {
          KMI_DRY_RUN: '0',
          KMI_UPSTREAM_BASE_URL: upstream.url,
          KMI_PROXY_TOKEN: 'tok-live-0123456789',
          KMI_PROXY_MAX_RPS: '1',
          KMI_PROXY_LISTEN: `127.0.0.1:${await freePort()}`,
          KMI_PROXY_FAILOVER_MAX: '0',
        },
      });
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout) as DemoJson;
      expect(j.mode).toBe('dry-run');
      expect(j.requests.ok).toBe(20);
      expect(j.failovers).toHaveLength(2);
      expect(j.keys.map((k) => k.label)).toEqual(['alpha', 'bravo', 'charlie']);
      expect(upstream.requests).toHaveLength(0);
      expect(existsSync(sb.stateDir)).toBe(false);
      expect(await listTree(sb.authsDir)).toEqual(before);
      expect(r.stdout).not.toContain('tok-live-0123456789');
      expect(await listTree(tmp)).toEqual([]);
    } finally {
      await upstream.close();
    }
  });

  it('speaks Russian under KMI_LOCALE=ru', async () => {
    const r = await runKmi(sb, ['demo', '--plain'], {
      env: { KMI_LOCALE: 'ru' },
      timeoutMs: 20_000,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^РЕЖИМ: DRY-RUN/);
    expect(r.stdout).toContain('Что дальше');
    expect(r.stdout).toMatch(/bravo 429 \(превышен лимит запросов\) → ответил/);
  });

  it('--keep serves until SIGINT with all keys healed, never shows a demo key, then removes everything', async () => {
    const child = spawn(process.execPath, [KMI_BIN, 'demo', '--keep', '--plain'], {
      cwd: sb.cwd,
      env: sb.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    try {
      const deadline = Date.now() + 20_000;
      while (!stdout.includes('Ctrl-C stops it') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(stdout).toContain('Ctrl-C stops it');
      const url = /KIMI_BASE_URL=(http:\/\/127\.0\.0\.1:\d+\/kmi-rotor\/v1)/.exec(stdout)?.[1];
      expect(url).toBeDefined();
      expect(stdout).toContain(`OPENAI_BASE_URL=${url}`);
      const dir = /removes (\S+)\.$/m.exec(stdout)?.[1] as string;
      expect(dir.startsWith(join(tmp, 'kmi-demo-'))).toBe(true);

      const labels = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`${url}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
          body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-kmi-dry-run')).toBe('1');
        labels.add(res.headers.get('x-kmi-key-label') ?? '');
        await res.text();
      }
      expect([...labels].sort()).toEqual(['alpha', 'bravo', 'charlie']);

      // the demo keys exist only in the temp folder, and never in what the demo printed
      const keys: string[] = [];
      for (const f of await readdir(join(dir, '_auths'))) {
        const m = /KMI_API_KEY=(\S+)/.exec(await readFile(join(dir, '_auths', f), 'utf8'));
        if (m) keys.push(m[1] as string);
      }
      expect(keys).toHaveLength(3);
      const trace = await readFile(join(dir, 'state', 'trace', 'trace.jsonl'), 'utf8');
      for (const k of keys) {
        expect(stdout).not.toContain(k);
        expect(trace).not.toContain(k);
      }

      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stderr).toBe('');
      expect(stdout).toContain('received SIGINT');
      expect(existsSync(dir)).toBe(false);
      expect(await listTree(tmp)).toEqual([]);
      await expect(fetch(`${url}/models`)).rejects.toThrow();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('cleans up when interrupted with SIGTERM while --keep is serving', async () => {
    const child = spawn(process.execPath, [KMI_BIN, 'demo', '--keep', '--json'], {
      cwd: sb.cwd,
      env: sb.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    const deadline = Date.now() + 20_000;
    let summary: DemoJson | null = null;
    while (summary === null && Date.now() < deadline) {
      try {
        summary = JSON.parse(stdout) as DemoJson;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(summary?.kept).toBe(true);
    expect(existsSync(summary!.temp_dir)).toBe(true);
    const res = await fetch(`${summary!.url}/models`);
    expect(res.status).toBe(200);
    await res.text();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(summary!.temp_dir)).toBe(false);
    expect(await listTree(tmp)).toEqual([]);
  });
});
