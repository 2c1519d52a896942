// The one place that declares every command and option; each action lazily imports its module.
import { Command, Option } from 'commander';
import { createContext, packageVersion, type Context, type GlobalFlags } from './context.js';

/** What a command returns: an exit code, or 'running' when it keeps the process alive (proxy). */
export type CommandResult = number | 'running';

type Runner = (
  ctx: Context,
  opts: Record<string, unknown>,
  args: readonly string[],
) => Promise<CommandResult>;

/** Run a command module with a fresh context; bin.ts maps the result or error to an exit. */
async function invoke(
  load: () => Promise<{ run: Runner }>,
  cmd: Command,
  args: readonly string[] = [],
): Promise<CommandResult> {
  const opts = cmd.optsWithGlobals<Record<string, unknown> & GlobalFlags>();
  const ctx = createContext(opts);
  try {
    const mod = await load();
    return await mod.run(ctx, opts, args);
  } finally {
    await ctx.close();
  }
}

function common(cmd: Command): Command {
  return cmd
    .option('--json', 'machine-readable JSON output')
    .option('--plain', 'no colors, box drawing or emoji')
    .option('--no-color', 'no colors');
}

export interface Program {
  readonly command: Command;
  /** Set by the action that ran. */
  result: Promise<CommandResult> | null;
}

export function buildProgram(): Program {
  const state: Program = { command: new Command(), result: null };
  const run = (load: () => Promise<{ run: Runner }>) =>
    function (this: Command, ...received: unknown[]) {
      const args = received.filter((a): a is string => typeof a === 'string');
      const variadic = received.find((a): a is string[] => Array.isArray(a)) ?? [];
      state.result = invoke(load, this, [...args, ...variadic]);
    };

  const program = common(state.command)
    .name('kmi')
    .description(
      'Manage a pool of Kimi Code API keys: health, quota, rotation, and a local rotating proxy.',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .option('--status', 'same as `kmi status`')
    .option('--all', 'same as `kmi health`')
    .option('--health', 'same as `kmi health`')
    .option('--current', 'show the key the Kimi CLI config uses now')
    .option('--rotate', 'same as `kmi rotate`')
    .option('--auto-rotate', 'same as `kmi rotate auto`')
    .addOption(new Option('--auto_rotate').hideHelp())
    .option('--trace', 'same as `kmi trace`')
    .addHelpText(
      'after',
      '\nExamples:\n  kmi demo            try the proxy with simulated keys\n  kmi status --json   machine-readable status\n  kmi proxy           start the rotating proxy in the background',
    )
    .enablePositionalOptions()
    .showSuggestionAfterError(false)
    .allowExcessArguments(false)
    .action(function (this: Command) {
      const o = this.opts<Record<string, boolean>>();
      if (o.status) return run(() => import('./status.js')).call(this);
      if (o.trace) return run(() => import('./trace.js')).call(this);
      if (o.all || o.health || o.current) return run(() => import('./health.js')).call(this);
      if (o.rotate) return run(() => import('./rotate.js')).call(this);
      if (o.autoRotate || o.auto_rotate) return run(() => import('./rotate.js')).call(this, 'auto');
      this.help();
    });

  common(program.command('status'))
    .description('mode, keys, active key, auto-rotate, state path and proxy')
    .addHelpText('after', '\nExample:\n  kmi status --json')
    .action(run(() => import('./status.js')));

  common(program.command('unblock'))
    .description('clear the block or cooldown of a key (or all keys)')
    .argument('[label]', 'label of the key to unblock')
    .option('--all', 'unblock every key')
    .addHelpText('after', '\nExamples:\n  kmi unblock alpha\n  kmi unblock --all')
    .action(run(() => import('./unblock.js')));

  common(program.command('proxy'))
    .description('start the rotating proxy in the background (or --foreground)')
    .option('--foreground', 'run in this terminal; Ctrl-C stops it')
    .addOption(new Option('--daemon-child').hideHelp())
    .addHelpText('after', '\nExamples:\n  kmi proxy\n  kmi proxy --foreground')
    .action(run(() => import('./proxy.js')));

  common(program.command('proxy-stop'))
    .description('stop the background proxy (only a verified kmi proxy)')
    .option('-y, --yes', 'do not ask (kept for compatibility; kmi never asks)')
    .option('-f, --force', 'also stop a kmi proxy that no longer answers, by its pid file')
    .addHelpText('after', '\nExample:\n  kmi proxy-stop')
    .action(run(() => import('./proxy-stop.js')));

  common(program.command('proxy-restart'))
    .description('stop the background proxy and start it again')
    .option('-f, --force', 'also stop a kmi proxy that no longer answers, by its pid file')
    .addHelpText('after', '\nExample:\n  kmi proxy-restart')
    .action(run(() => import('./proxy-restart.js')));

  program
    .command('kimi')
    .description(
      'run the Kimi CLI through the proxy (starts the proxy if needed); all arguments go to kimi',
    )
    .argument('[args...]', 'arguments passed to kimi')
    .allowUnknownOption(true)
    .helpOption(false)
    .passThroughOptions(true)
    .addHelpText('after', '\nExample:\n  kmi kimi --yolo')
    .action(run(() => import('./kimi.js')));

  common(program.command('doctor'))
    .description(
      'check settings, keys, proxy and files (OK/WARN/FAIL with a fix); exit 1 on any FAIL',
    )
    .option('--recheck-keys', 'recheck blocked keys with /usages now and unblock those that answer')
    .option('--clear-blocklist', 'clear every block (audited)')
    .addHelpText('after', '\nExamples:\n  kmi doctor\n  kmi doctor --recheck-keys --json')
    .action(run(() => import('./doctor.js')));

  common(program.command('proxy-logs'))
    .description('show and follow the proxy daemon log (or the app log with --app)')
    .option('--follow', 'keep printing new lines (default)')
    .option('--no-follow', 'print and exit')
    .option('-n, --lines <n>', 'how many of the last lines to show', '200')
    .option('--app', 'the app log (kmi.log) instead of the daemon output')
    .option('--daemon', 'the daemon output (proxy.out; default)')
    .option(
      '--since <when>',
      'only lines since 30s|10m|2h|1d or an ISO time (no offset = KMI_TIMEZONE)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  kmi proxy-logs --no-follow --lines 50\n  kmi proxy-logs --app --since 10m',
    )
    .action(run(() => import('./proxy-logs.js')));

  common(program.command('trace'))
    .description('live view of recent requests, per-key shares and rotation confidence (q quits)')
    .option('--once', 'print one snapshot and exit (implied when stdout is not a terminal)')
    .addHelpText('after', '\nExamples:\n  kmi trace\n  kmi trace --once\n  kmi trace --json')
    .action(run(() => import('./trace.js')));

  common(program.command('e2e'))
    .description(
      'send batches through the proxy and check that the keys share them evenly; exit 1 on WARN',
    )
    .option('-n, --requests <n>', 'requests in all', '50')
    .option('--batch <n>', 'requests sent at once', '10')
    .option('--window <n>', 'requests the confidence is measured over', '50')
    .option('--endpoint <path>', 'path under the proxy base', '/models')
    .option('--min-confidence <pct>', 'lowest passing rotation confidence', '95')
    .option('--timeout <seconds>', 'per-request timeout', '10')
    .option('--pause <seconds>', 'pause between batches', '0.5')
    .option('--scheme <scheme>', 'http, or https behind a TLS terminator', 'http')
    .addHelpText('after', '\nExample:\n  kmi e2e -n 100 --batch 20')
    .action(run(() => import('./e2e.js')));

  common(program.command('health'))
    .description('check every key: status, 5-hour and weekly quota, resets, requests, errors')
    .option('--current', 'only the key the Kimi CLI config uses now')
    .addHelpText('after', '\nExamples:\n  kmi health\n  kmi --all --json')
    .action(run(() => import('./health.js')));

  common(program.command('rotate'))
    .description(
      'pick the best key (and write it into the Kimi config); `rotate auto|off` switches auto-rotation',
    )
    .argument('[mode]', 'auto or off')
    .addHelpText('after', '\nExamples:\n  kmi rotate\n  kmi rotate auto\n  kmi rotate off')
    .action(run(() => import('./rotate.js')));

  const stateCmd = program
    .command('state')
    .description('shared state backend tools (file store or Redis via KMI_STATE_URL)')
    .helpOption('-h, --help', 'show help')
    // Nested commands do not get main()'s settings: errors must reach main() as CommanderErrors.
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .addHelpText('after', '\nExample:\n  kmi state migrate --to redis://127.0.0.1:6379/0')
    .action(function (this: Command) {
      this.help();
    });
  common(stateCmd.command('migrate'))
    .description(
      'copy the current state (KMI_STATE_URL, else state.json) to a Redis URL or a state folder',
    )
    .requiredOption(
      '--to <target>',
      'redis://host:port/db, rediss://…, a folder, or a state.json path',
    )
    .option('--force', 'overwrite a target that already holds a state')
    .addHelpText(
      'after',
      '\nExamples:\n  kmi state migrate --to redis://127.0.0.1:6379/0\n  KMI_STATE_URL=redis://127.0.0.1:6379/0 kmi state migrate --to ~/.kmi --force',
    )
    .action(run(() => import('./state.js')));

  common(program.command('demo'))
    .description(
      'try the proxy: three demo keys, a simulated upstream with a 429 and a 402, a burst of requests (no keys, no network)',
    )
    .option('--keep', 'keep the demo proxy running until Ctrl-C, to point a client at it')
    .addHelpText('after', '\nExamples:\n  kmi demo\n  kmi demo --keep\n  kmi demo --json')
    .action(run(() => import('./demo.js')));

  return state;
}
