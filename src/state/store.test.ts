import {
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../clock.js';
import { KmiError } from '../errors.js';
import type { StateEvent } from './backend.js';
import { keyState } from './key-state.js';
import { emptyState, type State } from './schema.js';
import {
  FileStateStore,
  parseStateText,
  serializeState,
  type FileStateStoreOptions,
} from './store.js';

const posix = process.platform !== 'win32';
let root: string;
let dir: string;
let stores: FileStateStore[];
let events: StateEvent[];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kmi-store-'));
  dir = join(root, '.kmi');
  stores = [];
  events = [];
});
afterEach(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await rm(root, { recursive: true, force: true });
});

function open(extra: Partial<FileStateStoreOptions> = {}): FileStateStore {
  const store = new FileStateStore({
    dir,
    enforcePerms: false,
    clock: manualClock(Date.UTC(2026, 0, 2, 3, 4, 5)),
    onEvent: (e) => events.push(e),
    watchIntervalMs: 50,
    ...extra,
  });
  stores.push(store);
  return store;
}

const statePath = () => join(dir, 'state.json');
const bits = async (p: string) => (await stat(p)).mode & 0o777;

/** A state.json exactly as the Python tool writes it: json.dumps(indent=2) + "\n". */
const PYTHON_STATE = `{
  "schema_version": 1,
  "active_index": 1,
  "rotation_index": 3,
  "auto_rotate": true,
  "last_health_refresh": "2026-01-05T10:00:00Z",
  "keys": {
    "alpha": {
      "last_used": "2026-01-05T09:59:00Z",
      "request_count": 42,
      "error_401": 0,
      "error_403": 1,
      "error_429": 2,
      "error_5xx": 0,
      "exhausted_until": "2026-01-05T11:00:00Z",
      "blocked_until": null,
      "blocked_reason": null
    },
    "beta": {
      "last_used": null,
      "request_count": 0,
      "error_401": 1,
      "error_403": 0,
      "error_429": 0,
      "error_5xx": 0,
      "exhausted_until": null,
      "blocked_until": null,
      "blocked_reason": "auth"
    }
  }
}
`;

describe('FileStateStore basics', () => {
  it('reads a missing file as an empty state without creating it', async () => {
    const store = open();
    expect(await store.read()).toEqual(emptyState());
    expect(await readdir(dir)).toEqual([]);
    expect(store.location).toBe(statePath());
  });

  it('writes pretty JSON with a trailing newline and returns the new state', async () => {
    const store = open();
    const result = await store.update((s) => {
      keyState(s, 'a').request_count += 2;
      s.auto_rotate = true;
    });
    expect(result.keys.a?.request_count).toBe(2);
    const text = await readFile(statePath(), 'utf8');
    expect(text).toBe(serializeState(result));
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "auto_rotate": true,');
    expect(await store.read()).toEqual(result);
    // The lock folder is gone again and no temp files are left behind.
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('loads a Python-tool state file unchanged and writes it back byte-for-byte', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(statePath(), PYTHON_STATE);
    const store = open();
    expect(await store.read()).toEqual(JSON.parse(PYTHON_STATE));
    await store.update(() => {});
    expect(await readFile(statePath(), 'utf8')).toBe(PYTHON_STATE);
    expect(events).toEqual([]);
  });

  it('keeps unknown fields through update', async () => {
    await mkdir(dir, { recursive: true });
    const raw = {
      schema_version: 1,
      from_the_future: { a: [1, 2, 3] },
      keys: { a: { request_count: 1, per_key_extra: 'x' } },
    };
    await writeFile(statePath(), JSON.stringify(raw));
    const store = open();
    await store.update((s) => {
      keyState(s, 'a').request_count += 1;
    });
    const onDisk = JSON.parse(await readFile(statePath(), 'utf8')) as State;
    expect(onDisk.from_the_future).toEqual({ a: [1, 2, 3] });
    expect(onDisk.keys.a?.per_key_extra).toBe('x');
    expect(onDisk.keys.a?.request_count).toBe(2);
  });

  it('tolerates a UTF-8 byte order mark', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(statePath(), `\uFEFF${JSON.stringify({ active_index: 2 })}`);
    expect((await open().read()).active_index).toBe(2);
    expect(events).toEqual([]);
  });

  it('leaves the file untouched and the lock free when mutate throws', async () => {
    const store = open();
    await store.update((s) => {
      s.active_index = 1;
    });
    const before = await readFile(statePath(), 'utf8');
    await expect(
      store.update((s) => {
        s.active_index = 9;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await readFile(statePath(), 'utf8')).toBe(before);
    expect((await store.update((s) => void (s.rotation_index = 4))).rotation_index).toBe(4);
  });

  it('merges many concurrent updates from two stores in one process', async () => {
    const a = open();
    const b = open();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? a : b).update((s) => {
          keyState(s, i % 2 === 0 ? 'a' : 'b').request_count += 1;
          keyState(s, 'shared').request_count += 1;
        }),
      ),
    );
    const state = await a.read();
    expect(state.keys.a?.request_count).toBe(20);
    expect(state.keys.b?.request_count).toBe(20);
    expect(state.keys.shared?.request_count).toBe(40);
  });
});

describe('corrupt state files', () => {
  const cases: Array<[string, string | Buffer]> = [
    ['truncated JSON', '{\n  "schema_version": 1,\n  "keys": {\n    "a": {"request_'],
    ['a JSON array', '[1, 2, 3]\n'],
    ['a JSON string', '"hello"'],
    ['an empty file', ''],
    ['binary junk', Buffer.from([0x00, 0xff, 0xfe, 0x7b, 0x80])],
  ];

  it.each(cases)(
    'sets %s aside intact, reports it once, and starts fresh',
    async (_name, content) => {
      await mkdir(dir, { recursive: true });
      await writeFile(statePath(), content);
      const store = open();
      expect(await store.read()).toEqual(emptyState());

      const movedTo = `${statePath()}.corrupt-20260102T030405Z`;
      expect(events).toEqual([
        { kind: 'corrupt', path: statePath(), movedTo, reason: expect.any(String) as string },
      ]);
      expect(Buffer.compare(await readFile(movedTo), Buffer.from(content))).toBe(0);
      // A fresh, valid state replaced it, so nothing is reported again.
      expect(JSON.parse(await readFile(statePath(), 'utf8'))).toEqual(emptyState());
      await store.read();
      await store.update(() => {});
      expect(events).toHaveLength(1);
    },
  );

  it('recovers inside update and still applies the change', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(statePath(), '{"keys": ');
    const store = open();
    const state = await store.update((s) => {
      keyState(s, 'a').request_count = 1;
    });
    expect(state.keys.a?.request_count).toBe(1);
    expect(events.map((e) => e.kind)).toEqual(['corrupt']);
    expect(await readFile(`${statePath()}.corrupt-20260102T030405Z`, 'utf8')).toBe('{"keys": ');
  });

  it('never overwrites an earlier corrupt copy from the same second', async () => {
    await mkdir(dir, { recursive: true });
    const store = open();
    await writeFile(statePath(), 'one');
    await store.read();
    await writeFile(statePath(), 'two');
    await store.read();
    const base = `${statePath()}.corrupt-20260102T030405Z`;
    expect(await readFile(base, 'utf8')).toBe('one');
    expect(await readFile(`${base}-1`, 'utf8')).toBe('two');
    expect(events).toHaveLength(2);
  });

  it('sets aside a folder sitting where the file should be', async () => {
    await mkdir(statePath(), { recursive: true });
    await writeFile(join(statePath(), 'inside'), 'kept');
    expect(await open().read()).toEqual(emptyState());
    expect(events[0]).toMatchObject({ kind: 'corrupt', reason: 'unreadable (EISDIR)' });
    expect(await readFile(join(`${statePath()}.corrupt-20260102T030405Z`, 'inside'), 'utf8')).toBe(
      'kept',
    );
  });

  it('parseStateText names the problem', () => {
    expect(parseStateText('')).toEqual({ kind: 'corrupt', reason: 'empty file' });
    expect(parseStateText('null')).toEqual({ kind: 'corrupt', reason: 'not a JSON object' });
    expect(parseStateText('{').kind).toBe('corrupt');
    expect(parseStateText('{}').kind).toBe('ok');
  });
});

describe.runIf(posix)('permissions', () => {
  it('creates the folder 0700 and the file 0600 when enforced', async () => {
    const store = open({ enforcePerms: true });
    await store.update((s) => void keyState(s, 'a'));
    expect(await bits(dir)).toBe(0o700);
    expect(await bits(statePath())).toBe(0o600);
    expect(events).toEqual([]);
  });

  it('tightens a loose existing folder and file and reports it', async () => {
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o755);
    await writeFile(statePath(), PYTHON_STATE);
    await chmod(statePath(), 0o644);
    const store = open({ enforcePerms: true });
    expect((await store.read()).active_index).toBe(1);
    expect(await bits(dir)).toBe(0o700);
    expect(await bits(statePath())).toBe(0o600);
    expect(events).toEqual([
      { kind: 'permissions-fixed', path: dir, mode: '0700' },
      { kind: 'permissions-fixed', path: statePath(), mode: '0600' },
    ]);
    await store.update(() => {});
    expect(await bits(statePath())).toBe(0o600);
    expect(events).toHaveLength(2);
  });

  it('leaves modes alone when not enforced', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(statePath(), '{}');
    await chmod(statePath(), 0o644);
    await open().update(() => {});
    expect(await bits(statePath())).toBe(0o644);
    expect(events).toEqual([]);
  });
});

describe('locking', () => {
  it('gives up with KMI_E_STATE_LOCK while another process holds the lock', async () => {
    await mkdir(`${statePath()}.lock`, { recursive: true });
    const store = open({ lockWaitMs: 300 });
    const err = await store.update(() => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KmiError);
    expect(err).toMatchObject({
      code: 'KMI_E_STATE_LOCK',
      messageKey: 'state.lockTimeout',
      params: { path: `${statePath()}.lock` },
    });
  });

  it('takes over a lock left by a dead process', async () => {
    const lockPath = `${statePath()}.lock`;
    await mkdir(lockPath, { recursive: true });
    const old = new Date(Date.now() - 60_000);
    await utimes(lockPath, old, old);
    const state = await open({ lockWaitMs: 2000 }).update((s) => void (s.active_index = 3));
    expect(state.active_index).toBe(3);
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it("copes with the Python tool's plain lock file", async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(`${statePath()}.lock`, '');
    await writeFile(statePath(), PYTHON_STATE);
    const state = await open({ lockWaitMs: 2000 }).update((s) => void (s.active_index = 0));
    expect(state.active_index).toBe(0);
    expect(await readdir(dir)).toEqual(['state.json']);
  });
});

describe('watch', () => {
  function nextChange(store: FileStateStore): Promise<State> {
    return new Promise((resolve) => {
      const off = store.watch((state) => {
        off();
        resolve(state);
      });
    });
  }

  it("sees another store's write", async () => {
    const watcher = open();
    const writer = open();
    await writer.update((s) => void (s.rotation_index = 1));
    const seen = nextChange(watcher);
    await writer.update((s) => void (s.auto_rotate = true));
    const state = await seen;
    expect(state.auto_rotate).toBe(true);
    expect(state.rotation_index).toBe(1);
  });

  it('sees the file being created', async () => {
    const watcher = open();
    const seen = nextChange(watcher);
    await open().update((s) => void keyState(s, 'new'));
    expect(Object.keys((await seen).keys)).toEqual(['new']);
  });

  it('stops after unsubscribe and close', async () => {
    const watcher = open();
    const calls: State[] = [];
    const off = watcher.watch((s) => calls.push(s));
    watcher.watch((s) => calls.push(s));
    off();
    off();
    await watcher.close();
    await open().update((s) => void (s.active_index = 5));
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toEqual([]);
  });
});
