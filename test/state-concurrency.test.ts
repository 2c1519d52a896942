// Real processes against one state.json: no lost updates under contention, and watch sees other writers.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { State } from '../src/state/schema.js';
import { FileStateStore } from '../src/state/store.js';

const WORKER = fileURLToPath(new URL('./helpers/state-worker.mjs', import.meta.url));
const BUILT_STORE = fileURLToPath(new URL('../dist/state/store.js', import.meta.url));

let dir: string;

beforeAll(() => {
  if (!existsSync(BUILT_STORE)) {
    throw new Error(`${BUILT_STORE} is missing: run "npm run build" before this test`);
  }
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kmi-state-conc-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runWorker(...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, dir, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && stderr === '') resolve();
      else reject(new Error(`worker ${args.join(' ')} exited ${code}: ${stderr}`));
    });
  });
}

describe('FileStateStore across processes', () => {
  it('loses no update when 4 processes change state at the same time', async () => {
    const N = 200;
    const labels = ['w1', 'w2', 'w3', 'w4'];
    await Promise.all(labels.map((label) => runWorker(label, 'count', String(N))));

    const raw = await readFile(join(dir, 'state.json'), 'utf8');
    const state = JSON.parse(raw) as State;
    expect(state.keys.shared?.request_count).toBe(labels.length * N);
    for (const label of labels) expect(state.keys[label]?.request_count).toBe(N);
    // No temp files or lock left behind.
    expect(await readdir(dir)).toEqual(['state.json']);
  }, 20_000);

  it('lets a watcher see a change made by another process', async () => {
    const store = new FileStateStore({ dir, enforcePerms: false, watchIntervalMs: 250 });
    try {
      const seen = new Promise<State>((resolve) => {
        const off = store.watch((state) => {
          if (state.active_label === 'from-child') {
            off();
            resolve(state);
          }
        });
      });
      await runWorker('from-child', 'set');
      // Expected within ~1 s; the generous limit only keeps a broken watcher from hanging the run.
      const state = await Promise.race([
        seen,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('watcher saw no change within 5 s')), 5_000),
        ),
      ]);
      expect(state.auto_rotate).toBe(true);
    } finally {
      await store.close();
    }
  });
});
