import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authFormatOf, discoverAuthFiles } from './discover.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kmi-discover-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(rel: string, text = 'x'): Promise<void> {
  const path = join(dir, rel);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
}

const canSymlink = process.platform !== 'win32';

describe('authFormatOf', () => {
  it.each([
    ['.env', 'env'],
    ['a.env', 'env'],
    ['A.ENV', 'env'],
    ['a.toml', 'toml'],
    ['a.json', 'json'],
    ['a.json.bak', 'json'],
    ['README.md', null],
    ['a.env.example', null],
    ['a.toml.bak', null],
    ['.hidden.env', null],
    ['.env.local', null],
    ['.DS_Store', null],
  ])('%s → %s', (name, format) => {
    expect(authFormatOf(name)).toBe(format);
  });
});

describe('discoverAuthFiles', () => {
  it('reports a missing folder without throwing', async () => {
    const out = await discoverAuthFiles(join(dir, 'nope'));
    expect(out).toEqual({ dir: join(dir, 'nope'), dirExists: false, files: [], notes: [] });
  });

  it('warns when the folder is a file', async () => {
    await put('file');
    const out = await discoverAuthFiles(join(dir, 'file'));
    expect(out.dirExists).toBe(false);
    expect(out.notes.map((n) => n.messageKey)).toEqual(['auth.warn.dirNotDirectory']);
  });

  it('lists auth files in the folder and one level of sub-folders, sorted', async () => {
    await put('b.toml');
    await put('a.env');
    await put('.env');
    await put('c.json.bak');
    await put('README.md');
    await put('.hidden.env');
    await put('team/.env');
    await put('team/x.json');
    await put('team/notes.txt');
    await put('team/deeper/y.env');
    await put('.git/z.env');
    const out = await discoverAuthFiles(dir);
    expect(out.dirExists).toBe(true);
    expect(out.notes).toEqual([]);
    expect(out.files.map((f) => [f.relPath, f.format])).toEqual([
      ['.env', 'env'],
      ['a.env', 'env'],
      ['b.toml', 'toml'],
      ['c.json.bak', 'json'],
      ['team/.env', 'env'],
      ['team/x.json', 'json'],
    ]);
    expect(out.files[0]?.path).toBe(join(dir, '.env'));
  });

  it('reports a folder with an auth name as not a regular file', async () => {
    await mkdir(join(dir, 'x.env'));
    await mkdir(join(dir, 'sub', 'y.json'), { recursive: true });
    const out = await discoverAuthFiles(dir);
    expect(out.files).toEqual([]);
    expect(out.notes.map((n) => [n.path, n.messageKey])).toEqual(
      expect.arrayContaining([
        [join(dir, 'x.env'), 'auth.warn.notRegularFile'],
        [join(dir, 'sub', 'y.json'), 'auth.warn.notRegularFile'],
      ]),
    );
  });

  it.skipIf(!canSymlink)('follows links to files and warns on broken links and loops', async () => {
    await put('real/target.env');
    await symlink(join(dir, 'real', 'target.env'), join(dir, 'link.env'));
    await symlink(join(dir, 'missing.env'), join(dir, 'broken.env'));
    await symlink(join(dir, 'loop-b.env'), join(dir, 'loop-a.env'));
    await symlink(join(dir, 'loop-a.env'), join(dir, 'loop-b.env'));
    await symlink(join(dir, 'nowhere'), join(dir, 'broken-dir-link'));
    const out = await discoverAuthFiles(dir);
    expect(out.files.map((f) => f.relPath)).toEqual(['link.env', 'real/target.env']);
    const notes = Object.fromEntries(out.notes.map((n) => [n.path, n.messageKey]));
    expect(notes).toEqual({
      [join(dir, 'broken.env')]: 'auth.warn.brokenLink',
      [join(dir, 'loop-a.env')]: 'auth.warn.linkLoop',
      [join(dir, 'loop-b.env')]: 'auth.warn.linkLoop',
    });
  });

  it.skipIf(!canSymlink)(
    'does not list the folder again through a link back to itself',
    async () => {
      await put('a.env');
      await symlink(dir, join(dir, 'self'));
      await put('team/b.env');
      await symlink(join(dir, 'team'), join(dir, 'team-again'));
      const out = await discoverAuthFiles(dir);
      const rels = out.files.map((f) => f.relPath);
      expect(rels).toContain('a.env');
      expect(rels).not.toContain('self/a.env');
      expect(rels.filter((r) => r.endsWith('b.env'))).toHaveLength(1);
    },
  );

  it.skipIf(process.platform === 'win32')(
    'reports a FIFO with an auth name without opening it',
    async () => {
      const path = join(dir, 'pipe.env');
      try {
        execFileSync('mkfifo', [path]);
      } catch {
        return;
      }
      const out = await discoverAuthFiles(dir);
      expect(out.files).toEqual([]);
      expect(out.notes).toEqual([{ path, messageKey: 'auth.warn.notRegularFile', params: {} }]);
    },
  );
});
