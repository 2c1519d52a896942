// Child process for src/state/redis-store.test.ts: changes a Redis state through the built RedisStateBackend.
// Usage: node redis-state-worker.mjs <url> <prefix> <stateDir> <label> <count>
//   <count> updates, each adding 1 to keys[label] and keys.shared request_count
import { openStateBackend } from '../../dist/state/open.js';
import { keyState } from '../../dist/state/key-state.js';

const [url, prefix, stateDir, label, countArg] = process.argv.slice(2);
if (!url || !prefix || !stateDir || !label || !countArg) {
  process.stderr.write('usage: redis-state-worker.mjs <url> <prefix> <stateDir> <label> <count>\n');
  process.exitCode = 2;
} else {
  const store = await openStateBackend(
    { stateUrl: url, stateDir, enforceFilePerms: true, stateFailOpen: false },
    { prefix },
  );
  try {
    for (let i = 0; i < Number(countArg); i++) {
      await store.update((state) => {
        keyState(state, label).request_count += 1;
        keyState(state, 'shared').request_count += 1;
      });
    }
  } catch (err) {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exitCode = 1;
  } finally {
    await store.close();
  }
}
