// End-to-end: `kmi proxy` as a background daemon — start, health, stop, stale pid files, a foreign port holder.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { DAEMON_NODE_FLAGS, startDaemon } from '../src/daemon/control.js';
import { fakeKey, freePort, KMI_BIN, makeSandbox, runKmi, type Sandbox } from './helpers/kmi.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await makeSandbox();
  const port = await freePort();
  sb.env.KMI_PROXY_LISTEN = `127.0.0.1:${port}`;
  await sb.writeAuth('alpha.env', `KMI_API_KEY=${fakeKey('alpha')}\n`);
  await sb.writeAuth('bravo.env', `KMI_API_KEY=${fakeKey('bravo')}\n`);
});
afterEach(async () => {
  await runKmi(sb, ['proxy-stop', '--force']);
  await sb.cleanup();
});

/** A process's argv, where /proc has it (Linux); null elsewhere. */
async function commandLine(pid: number): Promise<string[] | null> {
  if (process.platform !== 'linux') return null;
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
}

describe('kmi proxy (daemon)', () => {
  it('starts in the background, answers health, prints client env lines, and stops', async () => {
    const start = await runKmi(sb, ['proxy'], { timeoutMs: 30_000 });
    expect(start.stderr).toBe('');
    expect(start.code).toBe(0);
    const url = `http://${sb.env.KMI_PROXY_LISTEN}/kmi-rotor/v1`;
    expect(start.stdout).toContain(`KIMI_BASE_URL=${url}`);
    expect(start.stdout).toContain(`OPENAI_BASE_URL=${url}`);
    expect(start.stdout).toContain(
      `ANTHROPIC_BASE_URL=http://${sb.env.KMI_PROXY_LISTEN}/kmi-rotor`,
    );

    const pidFile = join(sb.stateDir, 'proxy.pid');
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    expect(pid).toBeGreaterThan(1);
    expect((await stat(pidFile)).mode & 0o777).toBe(0o600);

    const health = await fetch(`${url}/_kmi/health`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { pid: number }).pid).toBe(pid);
    // the daemon runs with the memory-saving V8 flags
    const cmdline = await commandLine(pid);
    if (cmdline !== null) for (const flag of DAEMON_NODE_FLAGS) expect(cmdline).toContain(flag);

    const status = await runKmi(sb, ['status', '--json']);
    expect((JSON.parse(status.stdout) as { proxy: { running: boolean } }).proxy.running).toBe(true);

    const out = await readFile(join(sb.stateDir, 'logs', 'proxy.out'), 'utf8');
    expect(out).toContain('DRY-RUN');

    const stop = await runKmi(sb, ['proxy-stop']);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain(String(pid));
    expect(existsSync(pidFile)).toBe(false);
    const again = await runKmi(sb, ['proxy-stop']);
    expect(again.stdout).toContain('no kmi proxy is running');
  });

  it('starts without the V8 tuning flags when Node rejects one of them', async () => {
    const { config } = loadConfig({ env: sb.env, cwd: sb.cwd });
    const started = await startDaemon(config, {
      binPath: KMI_BIN,
      env: sb.env,
      nodeFlags: ['--max-semi-space-size=4', '--kmi-test-unknown-v8-flag'],
      timeoutMs: 30_000,
    });
    const health = await fetch(`http://${sb.env.KMI_PROXY_LISTEN}/kmi-rotor/v1/_kmi/health`);
    expect(((await health.json()) as { pid: number }).pid).toBe(started.pid);
    expect(await readFile(started.logPath, 'utf8')).toContain('bad option');
    const cmdline = await commandLine(started.pid);
    if (cmdline !== null) {
      expect(cmdline).toContain('--max-semi-space-size=4');
      expect(cmdline).not.toContain('--kmi-test-unknown-v8-flag');
    }
  });

  it('replaces a kmi proxy already on the port (proxy-restart)', async () => {
    expect((await runKmi(sb, ['proxy'], { timeoutMs: 30_000 })).code).toBe(0);
    const first = Number((await readFile(join(sb.stateDir, 'proxy.pid'), 'utf8')).trim());
    const restart = await runKmi(sb, ['proxy-restart'], { timeoutMs: 40_000 });
    expect(restart.code).toBe(0);
    const second = Number((await readFile(join(sb.stateDir, 'proxy.pid'), 'utf8')).trim());
    expect(second).not.toBe(first);
    expect(() => process.kill(first, 0)).toThrow();
  });

  it('refuses a port held by another program and names it', async () => {
    const server = createServer((s) => s.end());
    const port = Number(sb.env.KMI_PROXY_LISTEN?.split(':')[1]);
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    try {
      const r = await runKmi(sb, ['proxy']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${port}`);
      expect(r.stderr).toContain(`pid ${process.pid}`);
      // and the foreign program is left alone
      expect(server.listening).toBe(true);
    } finally {
      server.close();
    }
  });

  it('cleans a stale pid file instead of signalling whatever has that pid now', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    await mkdir(sb.stateDir, { recursive: true });
    await writeFile(join(sb.stateDir, 'proxy.pid'), `${child.pid}\n`);
    const r = await runKmi(sb, ['proxy-stop']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('stale');
    expect(existsSync(join(sb.stateDir, 'proxy.pid'))).toBe(false);

    // a live pid that is not a kmi proxy (this test runner) is never signalled
    await writeFile(join(sb.stateDir, 'proxy.pid'), `${process.pid}\n`);
    const r2 = await runKmi(sb, ['proxy-stop', '--force']);
    expect(r2.code).toBe(0);
    expect(r2.stdout).toContain('no kmi proxy is running');
  });

  it('refuses a remote bind without the required settings, naming the variable', async () => {
    const r = await runKmi(sb, ['proxy'], { env: { KMI_PROXY_LISTEN: '0.0.0.0:0' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('KMI_PROXY_ALLOW_REMOTE');
  });
});

describe('daemon log rotation', () => {
  it('rotates proxy.out at start once it reaches KMI_LOG_MAX_MB, keeping KMI_LOG_BACKUPS files', async () => {
    const { rotateDaemonLog } = await import('../src/daemon/control.js');
    const logs = join(sb.stateDir, 'logs');
    await mkdir(logs, { recursive: true });
    const path = join(logs, 'proxy.out');
    await writeFile(path, 'small\n');
    expect(await rotateDaemonLog(path, 1024, 2)).toBe(false);
    for (const round of ['one', 'two', 'three']) {
      await writeFile(path, `${round}\n`.repeat(400));
      expect(await rotateDaemonLog(path, 1024, 2)).toBe(true);
    }
    expect(existsSync(path)).toBe(false);
    expect((await readFile(`${path}.1`, 'utf8')).startsWith('three')).toBe(true);
    expect((await readFile(`${path}.2`, 'utf8')).startsWith('two')).toBe(true);
    expect(existsSync(`${path}.3`)).toBe(false);
  });
});
