// End-to-end: `kmi proxy-logs` on crafted logs — last lines, --since, --app, a missing file, following across rotation.
import { spawn } from 'node:child_process';
import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KMI_BIN, makeSandbox, runKmi, type Sandbox } from './helpers/kmi.js';

let sb: Sandbox;
let logs: string;
const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();

beforeEach(async () => {
  sb = await makeSandbox();
  logs = join(sb.stateDir, 'logs');
  await mkdir(logs, { recursive: true });
});
afterEach(async () => {
  await sb.cleanup();
});

describe('kmi proxy-logs', () => {
  it('prints the last N daemon lines without following', async () => {
    await writeFile(
      join(logs, 'proxy.out'),
      Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n') + '\n',
    );
    const r = await runKmi(sb, ['proxy-logs', '--no-follow', '--lines', '3']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['line 7', 'line 8', 'line 9']);
  });

  it('filters the app log by --since on each line timestamp', async () => {
    const lines = [
      JSON.stringify({ ts: iso(3 * 3600_000), level: 'info', message: 'old_event' }),
      JSON.stringify({ ts: iso(20 * 60_000), level: 'info', message: 'twenty_minutes' }),
      JSON.stringify({ ts: iso(5 * 60_000), level: 'warn', message: 'five_minutes' }),
      'not a json line, follows the previous decision',
    ];
    await writeFile(join(logs, 'kmi.log'), lines.join('\n') + '\n');
    const r = await runKmi(sb, ['proxy-logs', '--app', '--no-follow', '--since', '10m']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('old_event');
    expect(r.stdout).not.toContain('twenty_minutes');
    expect(r.stdout).toContain('five_minutes');
    expect(r.stdout).toContain('follows the previous decision');
    const wide = await runKmi(sb, ['proxy-logs', '--app', '--no-follow', '--since', '1h']);
    expect(wide.stdout).toContain('twenty_minutes');
    const absolute = await runKmi(sb, [
      'proxy-logs',
      '--app',
      '--no-follow',
      '--since',
      iso(4 * 3600_000),
    ]);
    expect(absolute.stdout).toContain('old_event');
  });

  it('rejects a bad --since with exit 2', async () => {
    const r = await runKmi(sb, ['proxy-logs', '--no-follow', '--since', 'yesterday-ish']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--since');
  });

  it('says clearly when there is no log yet', async () => {
    const r = await runKmi(sb, ['proxy-logs', '--no-follow']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('no daemon log yet');
  });

  it('keeps following when the log is rotated', async () => {
    const path = join(logs, 'proxy.out');
    await writeFile(path, 'before\n');
    const child = spawn(process.execPath, [KMI_BIN, 'proxy-logs', '--lines', '5'], {
      cwd: sb.cwd,
      env: sb.env,
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const waitFor = async (text: string) => {
      for (let i = 0; i < 100 && !out.includes(text); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain(text);
    };
    try {
      await waitFor('before');
      await appendFile(path, 'appended\n');
      await waitFor('appended');
      await rename(path, `${path}.1`);
      await writeFile(path, 'after rotation\n');
      await waitFor('after rotation');
    } finally {
      child.kill('SIGINT');
    }
  });
});
