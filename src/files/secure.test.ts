import { mkdtemp, readFile, readdir, rm, stat, writeFile, chmod, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ensureSecureDir,
  moveAside,
  permissionBits,
  secureFileMode,
  tightenMode,
  writeFileAtomicSecure,
} from './secure.js';

const posix = process.platform !== 'win32';
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kmi-secure-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const bits = async (p: string) => (await stat(p)).mode & 0o777;

describe('ensureSecureDir', () => {
  it('creates nested folders', async () => {
    const dir = join(root, 'a', 'b', 'c');
    await ensureSecureDir(dir, false);
    expect((await stat(dir)).isDirectory()).toBe(true);
  });

  it.runIf(posix)('makes the folder 0700 when enforced, even if it existed looser', async () => {
    const dir = join(root, 'loose');
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    await ensureSecureDir(dir, true);
    expect(await bits(dir)).toBe(0o700);
    const fresh = join(root, 'x', 'y');
    await ensureSecureDir(fresh, true);
    expect(await bits(fresh)).toBe(0o700);
  });

  it.runIf(posix)('leaves modes alone when not enforced', async () => {
    const dir = join(root, 'open');
    await mkdir(dir);
    await chmod(dir, 0o755);
    await ensureSecureDir(dir, false);
    expect(await bits(dir)).toBe(0o755);
  });
});

describe('secureFileMode', () => {
  it('is 0600 only when enforced', () => {
    expect(secureFileMode(false)).toBeUndefined();
    if (posix) expect(secureFileMode(true)).toBe(0o600);
  });
});

describe('writeFileAtomicSecure', () => {
  it('writes the content and leaves no temp files', async () => {
    const file = join(root, 'f.json');
    await writeFileAtomicSecure(file, 'one\n', false);
    await writeFileAtomicSecure(file, Buffer.from('two\n'), false);
    expect(await readFile(file, 'utf8')).toBe('two\n');
    expect(await readdir(root)).toEqual(['f.json']);
  });

  it.runIf(posix)(
    'creates 0600 files and tightens an existing 0644 one when enforced',
    async () => {
      const file = join(root, 'secret');
      await writeFileAtomicSecure(file, 'x', true);
      expect(await bits(file)).toBe(0o600);
      const old = join(root, 'old');
      await writeFile(old, 'y');
      await chmod(old, 0o644);
      await writeFileAtomicSecure(old, 'z', true);
      expect(await bits(old)).toBe(0o600);
    },
  );
});

describe('tightenMode / permissionBits', () => {
  it.runIf(posix)('fixes only looser modes and reports the old bits', async () => {
    const file = join(root, 'f');
    await writeFile(file, '');
    await chmod(file, 0o644);
    expect(await tightenMode(file, 0o600, false)).toBeNull();
    expect(await bits(file)).toBe(0o644);
    expect(await tightenMode(file, 0o600, true)).toBe(0o644);
    expect(await bits(file)).toBe(0o600);
    await chmod(file, 0o400);
    expect(await tightenMode(file, 0o600, true)).toBeNull();
    expect(await bits(file)).toBe(0o400);
  });

  it('is null for a missing path', async () => {
    expect(await permissionBits(join(root, 'nope'))).toBeNull();
    expect(await tightenMode(join(root, 'nope'), 0o600, true)).toBeNull();
  });
});

describe('moveAside', () => {
  it('renames, keeps the content, and never overwrites an earlier one', async () => {
    const file = join(root, 'state.json');
    await writeFile(file, 'first');
    const a = await moveAside(file, 'corrupt-1');
    expect(a).toBe(`${file}.corrupt-1`);
    await writeFile(file, 'second');
    const b = await moveAside(file, 'corrupt-1');
    expect(b).toBe(`${file}.corrupt-1-1`);
    expect(await readFile(a, 'utf8')).toBe('first');
    expect(await readFile(b, 'utf8')).toBe('second');
    expect(await permissionBits(file)).toBeNull();
  });

  it('rejects when the source is missing', async () => {
    await expect(moveAside(join(root, 'missing'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
