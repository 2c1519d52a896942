#!/usr/bin/env node
// Entry point of `kmi`: run the command line and exit with its code once output has drained. The only place that exits.
import { main } from './cli/main.js';

const result = await main(process.argv.slice(2));
if (result !== 'running') {
  process.exitCode = result;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(result)));
}
