// End-to-end: `kmi kimi` and `kimi_robin` run a stub `kimi` through the proxy, with no real key in its environment.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, fakeKey, freePort, makeSandbox, runKmi, type Sandbox } from './helpers/kmi.js';

let sb: Sandbox;
let keys: string[];
beforeEach(async () => {
  sb = await makeSandbox();
  sb.env.KMI_PROXY_LISTEN = `127.0.0.1:${await freePort()}`;
  keys = [fakeKey('alpha'), fakeKey('bravo')];
  await sb.writeAuth('alpha.env', `KMI_API_KEY=${keys[0]}\n`);
  await sb.writeAuth('bravo.env', `KMI_API_KEY=${keys[1]}\n`);
  const bin = join(sb.root, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'kimi'), '#!/bin/sh\necho "ARGS=$*"\nenv | sort\nexit 7\n');
  await chmod(join(bin, 'kimi'), 0o755);
  sb.env.PATH = `${bin}:${sb.env.PATH}`;
});
afterEach(async () => {
  await runKmi(sb, ['proxy-stop', '--force']);
  await sb.cleanup();
});

describe('kmi kimi', () => {
  it('starts the proxy, points kimi at it with a placeholder key, and passes args and exit code', async () => {
    const r = await runKmi(sb, ['kimi', '--yolo', 'hello world'], {
      timeoutMs: 30_000,
      env: { KMI_API_KEY: keys[0] as string },
    });
    expect(r.code).toBe(7);
    const url = `http://${sb.env.KMI_PROXY_LISTEN}/kmi-rotor/v1`;
    expect(r.stdout).toContain('ARGS=--yolo hello world');
    expect(r.stdout).toContain(`KIMI_BASE_URL=${url}`);
    expect(r.stdout).toContain(`KIMI_MODEL_BASE_URL=${url}`);
    expect(r.stdout).toContain('KIMI_API_KEY=proxy');
    for (const k of keys) expect(r.stdout + r.stderr).not.toContain(k);
    const health = await fetch(`${url}/_kmi/health`);
    expect(health.status).toBe(200);
  });

  it('hands the proxy token (not a key) to kimi when one is set, via kimi_robin too', async () => {
    const token = 'tok-0123456789abcdef0123';
    const r = await runKmi(sb, ['--version'], {
      timeoutMs: 30_000,
      env: { KMI_PROXY_TOKEN: token },
      bin: join(REPO_ROOT, 'dist', 'bin-kimi-robin.js'),
    });
    expect(r.code).toBe(7);
    expect(r.stdout).toContain('ARGS=--version');
    expect(r.stdout).toContain(`KIMI_API_KEY=${token}`);
  });

  it('says how to install kimi when it is missing', async () => {
    const r = await runKmi(sb, ['kimi'], { env: { PATH: '/nonexistent' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('kimi command was not found');
  });
});
