import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_AUTH_FILE_BYTES, readAuthFile } from './read.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kmi-read-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function hasMkfifo(): boolean {
  try {
    execFileSync('mkfifo', ['--version'], { stdio: 'ignore' });
    return process.platform !== 'win32';
  } catch {
    return false;
  }
}

describe('readAuthFile', () => {
  it('reads UTF-8 text and drops a BOM', async () => {
    const path = join(dir, 'a.env');
    await writeFile(path, '\uFEFFKMI_API_KEY=x\n');
    expect(await readAuthFile(path)).toEqual({ ok: true, text: 'KMI_API_KEY=x\n' });
  });

  it('rejects invalid UTF-8 and NUL bytes as binary', async () => {
    await writeFile(join(dir, 'a.env'), Buffer.from([0xff, 0xfe, 0x41, 0x00]));
    await writeFile(join(dir, 'b.env'), 'KMI_API_KEY=x\u0000\n');
    for (const name of ['a.env', 'b.env']) {
      const out = await readAuthFile(join(dir, name));
      expect(out).toEqual({ ok: false, skip: { messageKey: 'auth.warn.binary', params: {} } });
    }
  });

  it('accepts exactly 1 MiB and rejects one byte more as too large', async () => {
    await writeFile(join(dir, 'ok.env'), '#'.repeat(MAX_AUTH_FILE_BYTES));
    await writeFile(join(dir, 'big.env'), '#'.repeat(MAX_AUTH_FILE_BYTES + 1));
    expect((await readAuthFile(join(dir, 'ok.env'))).ok).toBe(true);
    expect(await readAuthFile(join(dir, 'big.env'))).toEqual({
      ok: false,
      skip: {
        messageKey: 'auth.warn.tooLarge',
        params: { size: MAX_AUTH_FILE_BYTES + 1, limit: MAX_AUTH_FILE_BYTES },
      },
    });
  });

  it('rejects a directory', async () => {
    await mkdir(join(dir, 'd.env'));
    const out = await readAuthFile(join(dir, 'd.env'));
    expect(out.ok).toBe(false);
    expect(!out.ok && out.skip.messageKey).toBe('auth.warn.notRegularFile');
  });

  it('reports a missing file as unreadable with its errno code', async () => {
    expect(await readAuthFile(join(dir, 'gone.env'))).toEqual({
      ok: false,
      skip: { messageKey: 'auth.warn.unreadable', params: { reason: 'ENOENT' } },
    });
  });

  it.skipIf(!hasMkfifo())('does not hang on a FIFO', async () => {
    const path = join(dir, 'pipe.env');
    execFileSync('mkfifo', [path]);
    const out = await readAuthFile(path);
    expect(!out.ok && out.skip.messageKey).toBe('auth.warn.notRegularFile');
  });
});
