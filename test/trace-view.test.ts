// End-to-end: `kmi trace` on crafted traces — snapshot, JSON, confidence (even, skewed, malformed, rotated) and the live view in a pty.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KMI_BIN, fakeKey, makeSandbox, runKmi, type Sandbox } from './helpers/kmi.js';

let sb: Sandbox;
let traceDir: string;
const LABELS = ['alpha', 'bravo', 'charlie', 'delta'];

function record(i: number, label: string, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    ts: `2026-03-01 10:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')} +0000`,
    request_id: i.toString(16).padStart(32, '0'),
    method: 'POST',
    prompt_hint: `hello number ${i}`,
    prompt_head: 'hello',
    key_label: label,
    key_hash: 'abcdefabcdef',
    endpoint: '/chat/completions',
    status: 200,
    latency_ms: 12,
    error_code: null,
    rotation_index: i,
    schema_version: 1,
    ttfb_ms: 3,
    attempts: 1,
    failover_from: [],
    stream: false,
    dry_run: true,
    ...extra,
  });
}

interface SnapshotJson {
  confidence: {
    confidence: number | null;
    warn: boolean;
    keys: { label: string; count: number }[];
  };
  recent: unknown[];
  failovers: { failover_from: string[] }[];
  malformed: number;
}

beforeEach(async () => {
  sb = await makeSandbox();
  traceDir = join(sb.stateDir, 'trace');
  await mkdir(traceDir, { recursive: true });
  for (const l of LABELS) await sb.writeAuth(`${l}.env`, `KMI_API_KEY=${fakeKey(l)}\n`);
});
afterEach(async () => {
  await sb.cleanup();
});

async function snapshot(): Promise<SnapshotJson> {
  const r = await runKmi(sb, ['trace', '--json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as SnapshotJson;
}

describe('kmi trace', () => {
  it('scores an even round-robin 100 % across rotated files, ignoring and counting malformed lines', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => record(i, LABELS[i % 4] as string));
    await writeFile(join(traceDir, 'trace.jsonl.1'), lines.slice(0, 120).join('\n') + '\n');
    await writeFile(
      join(traceDir, 'trace.jsonl'),
      [...lines.slice(120), '{broken json', 'garbage'].join('\n') + '\n',
    );
    const s = await snapshot();
    expect(s.confidence.confidence).toBe(100);
    expect(s.confidence.warn).toBe(false);
    expect(s.confidence.keys.map((k) => k.count)).toEqual([50, 50, 50, 50]);
    expect(s.malformed).toBe(2);
  });

  it('warns when the proxy is stuck on one key (idle eligible keys count)', async () => {
    await writeFile(
      join(traceDir, 'trace.jsonl'),
      Array.from({ length: 50 }, (_, i) => record(i, 'alpha')).join('\n') + '\n',
    );
    const s = await snapshot();
    expect(s.confidence.confidence).toBeLessThan(95);
    expect(s.confidence.warn).toBe(true);
    const once = await runKmi(sb, ['trace', '--once', '--plain']);
    expect(once.stdout).toContain('below 95%');
  });

  it('lists failovers and the latest requests in the snapshot', async () => {
    const lines = [
      record(1, 'alpha'),
      record(2, 'bravo', { failover_from: ['alpha'], attempts: 2 }),
      record(3, 'charlie', { status: 502, error_code: 'upstream_5xx' }),
    ];
    await writeFile(join(traceDir, 'trace.jsonl'), lines.join('\n') + '\n');
    const s = await snapshot();
    expect(s.failovers).toHaveLength(1);
    expect(s.failovers[0]?.failover_from).toEqual(['alpha']);
    const text = await runKmi(sb, ['--trace', '--plain']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('alpha → bravo');
    expect(text.stdout).toContain('hello number 3');
  });

  it('says so when there is no trace yet', async () => {
    const r = await runKmi(sb, ['trace', '--once']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no requests recorded yet');
  });

  it('runs full-screen in a terminal, refreshes, and restores the terminal on q', async () => {
    await writeFile(
      join(traceDir, 'trace.jsonl'),
      Array.from({ length: 8 }, (_, i) => record(i, LABELS[i % 4] as string)).join('\n') + '\n',
    );
    const child = spawn('script', ['-qfec', `${process.execPath} ${KMI_BIN} trace`, '/dev/null'], {
      cwd: sb.cwd,
      env: { ...sb.env, TERM: 'xterm', COLUMNS: '120', LINES: '40' },
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) =>
      child.on('close', (code) => resolve(code)),
    );
    for (let i = 0; i < 100 && !out.includes('rotation confidence'); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('\u001b[?1049h');
    expect(out).toContain('rotation confidence');
    child.stdin.write('q');
    const code = await Promise.race([
      exited,
      new Promise<string>((r) => setTimeout(() => r('timeout'), 10_000)),
    ]);
    if (code === 'timeout') child.kill('SIGKILL');
    expect(code).toBe(0);
    expect(out).toContain('\u001b[?1049l');
    expect(out).toContain('\u001b[?25h');
  });
});
