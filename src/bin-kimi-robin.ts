#!/usr/bin/env node
// Entry point of `kimi_robin`, the seed's alias: the same as `kmi kimi …`.
import { main } from './cli/main.js';

const result = await main(['kimi', ...process.argv.slice(2)]);
if (result !== 'running') {
  process.exitCode = result;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(result)));
}
