// Unreadable files as root: chmod 000 does not stop root, so open() is made to fail with EACCES here.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof real.open = (path, ...rest) => {
    if (String(path).includes('locked')) {
      return Promise.reject(
        Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }),
      );
    }
    return real.open(path, ...rest);
  };
  return { ...real, default: { ...real, open }, open };
});

const { loadAuthRegistry } = await import('./registry.js');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kmi-auth-eacces-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('skips a file it may not read with one warning and keeps the others', async () => {
  await writeFile(join(dir, 'good.env'), 'KMI_API_KEY=sk-eacces-good-000000000000000001\n');
  await writeFile(join(dir, 'locked.json'), '{"api_key": "sk-eacces-locked-0000000000000001"}');
  const reg = await loadAuthRegistry({ dir, upstreamAllowlist: [] });
  expect(reg.keys.map((k) => k.label)).toEqual(['good']);
  expect(reg.warnings).toEqual([
    {
      file: join(dir, 'locked.json'),
      messageKey: 'auth.warn.unreadable',
      params: { reason: 'EACCES', file: join(dir, 'locked.json') },
    },
  ]);
});
