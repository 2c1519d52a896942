import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../clock.js';
import { createLogger, formatLogLine, maskLogText } from './logger.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kmi-log-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const readJson = async (p: string) =>
  (await readFile(p, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('createLogger', () => {
  it('writes JSON lines with ts in the zone, level, message and fields; audit carries the actor', async () => {
    const clock = manualClock(Date.UTC(2026, 10, 25, 11, 3, 9));
    const dir = join(root, 'logs');
    const log = createLogger({
      dir,
      maxBytes: 1 << 20,
      backups: 3,
      enforcePerms: true,
      timezone: '+03:00',
      actor: 'alice',
      clock,
    });
    log.info('proxy.started', { port: 54123, host: '127.0.0.1' });
    clock.advance(1000);
    log.audit('rotate.auto.on', { labels: ['a', 'b'] });
    log.debug('hidden');
    log.warn('key.blocked', { label: 'beta', reason: 'auth', ts: 'caller field' });
    await log.close();
    const lines = await readJson(join(dir, 'kmi.log'));
    expect(lines).toEqual([
      {
        ts: '2026-11-25 14:03:09 +0300',
        level: 'info',
        message: 'proxy.started',
        port: 54123,
        host: '127.0.0.1',
      },
      {
        ts: '2026-11-25 14:03:10 +0300',
        level: 'audit',
        message: 'rotate.auto.on',
        actor: 'alice',
        labels: ['a', 'b'],
      },
      {
        ts: '2026-11-25 14:03:10 +0300',
        level: 'warn',
        message: 'key.blocked',
        label: 'beta',
        reason: 'auth',
        field_ts: 'caller field',
      },
    ]);
    if (process.platform !== 'win32') {
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(dir, 'kmi.log'))).mode & 0o777).toBe(0o600);
    }
  });

  it('honours minLevel, but always writes audit events', async () => {
    const log = createLogger({
      dir: root,
      maxBytes: 1 << 20,
      backups: 1,
      enforcePerms: false,
      timezone: 'UTC',
      actor: 'bob',
      minLevel: 'error',
    });
    log.info('no');
    log.warn('no');
    log.error('yes');
    log.audit('audit-yes');
    await log.close();
    expect((await readJson(log.path)).map((l) => l.message)).toEqual(['yes', 'audit-yes']);

    const verbose = createLogger({
      dir: root,
      fileName: 'debug.log',
      maxBytes: 1 << 20,
      backups: 1,
      enforcePerms: false,
      timezone: 'UTC',
      actor: 'bob',
      minLevel: 'debug',
    });
    verbose.debug('dbg');
    await verbose.close();
    expect((await readJson(join(root, 'debug.log'))).map((l) => l.level)).toEqual(['debug']);
  });

  it('masks keys that slip into messages or fields', async () => {
    const secret = 'sk-LeakedKey0123456789xyzw';
    const log = createLogger({
      dir: root,
      maxBytes: 1 << 20,
      backups: 1,
      enforcePerms: false,
      timezone: 'UTC',
      actor: 'x',
    });
    log.error(`failed with ${secret}`, {
      detail: `header Authorization: Bearer ${secret}`,
      list: [secret, 'ok'],
      n: 3,
    });
    await log.close();
    const text = await readFile(log.path, 'utf8');
    expect(text).not.toContain(secret);
    const [line] = await readJson(log.path);
    expect(line!.message).toBe('failed with sk-L…xyzw');
    expect(line!.list).toEqual(['sk-L…xyzw', 'ok']);
    expect(line!.n).toBe(3);
  });

  it('rotates kmi.log by size', async () => {
    const log = createLogger({
      dir: root,
      maxBytes: 300,
      backups: 2,
      enforcePerms: false,
      timezone: 'UTC',
      actor: 'x',
    });
    for (let i = 0; i < 30; i++) log.info('event', { i });
    await log.close();
    expect((await readdir(root)).sort()).toEqual(['kmi.log', 'kmi.log.1', 'kmi.log.2']);
  });
});

describe('formatLogLine / maskLogText', () => {
  it('leaves ordinary text alone', () => {
    expect(maskLogText('sk-short, risk-management, task-listing')).toBe(
      'sk-short, risk-management, task-listing',
    );
    expect(maskLogText('key=sk-abcdefgh1234')).toBe('key=sk-a…1234');
    expect(maskLogText('nothing here')).toBe('nothing here');
    expect(formatLogLine('info', 'e', undefined, { nowMs: 0, timezone: 'UTC' })).toBe(
      '{"ts":"1970-01-01 00:00:00 +0000","level":"info","message":"e"}',
    );
  });
});
