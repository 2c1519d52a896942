// Child process for test/state-concurrency.test.ts: changes state.json through the built FileStateStore.
// Usage: node state-worker.mjs <dir> <label> <mode> [count]
//   mode "count": <count> updates, each adding 1 to keys[label] and keys.shared request_count
//   mode "set":   one update setting active_label = label and auto_rotate = true
import { FileStateStore } from '../../dist/state/store.js';
import { keyState } from '../../dist/state/key-state.js';

const [dir, label, mode, countArg] = process.argv.slice(2);
if (!dir || !label || !mode) {
  process.stderr.write('usage: state-worker.mjs <dir> <label> <count|set> [count]\n');
  process.exitCode = 2;
} else {
  const store = new FileStateStore({
    dir,
    enforcePerms: true,
    lockWaitMs: 30_000,
    onEvent: (e) => process.stderr.write(`event ${JSON.stringify(e)}\n`),
  });
  try {
    if (mode === 'count') {
      const n = Number(countArg ?? '0');
      for (let i = 0; i < n; i++) {
        await store.update((state) => {
          keyState(state, label).request_count += 1;
          keyState(state, 'shared').request_count += 1;
        });
      }
    } else if (mode === 'set') {
      await store.update((state) => {
        state.active_label = label;
        state.auto_rotate = true;
      });
    } else {
      throw new Error(`unknown mode ${mode}`);
    }
    await store.close();
  } catch (err) {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exitCode = 1;
  }
}
