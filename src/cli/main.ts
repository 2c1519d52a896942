// main: parse argv, run one command, and turn its result or error into an exit code (printing the error once).
import { CommanderError } from 'commander';
import { buildProgram, type CommandResult } from './program.js';
import { closestName } from './suggest.js';
import { debugEnabled } from '../config/load.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, KmiError, SilentExit } from '../errors.js';
import { t } from '../ui/i18n/index.js';

function wantsJson(argv: readonly string[]): boolean {
  return argv.includes('--json');
}

function report(argv: readonly string[], code: string, message: string): void {
  if (wantsJson(argv)) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
  else process.stderr.write(`kmi: ${message}\n`);
}

function fromCommander(
  err: CommanderError,
  candidates: { commands: string[]; options: string[] },
): string {
  const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? '';
  if (err.code === 'commander.unknownCommand') {
    const near = closestName(quoted, candidates.commands);
    return t('cli.unknownCommand', {
      name: quoted,
      hint: near ? t('cli.didYouMean', { name: near }) : '',
    });
  }
  if (err.code === 'commander.unknownOption') {
    const near = closestName(quoted, candidates.options);
    return t('cli.unknownOption', {
      name: quoted,
      hint: near ? t('cli.didYouMean', { name: near }) : '',
    });
  }
  return t('cli.badArgument', {
    detail: err.message.replace(/^error:\s*/, '').split('\n')[0] ?? '',
  });
}

/** Run kmi with `argv` (without node and script); resolves to the exit code, or 'running' for a long-lived command. */
export async function main(argv: readonly string[]): Promise<CommandResult> {
  const program = buildProgram();
  const root = program.command;
  root.exitOverride();
  root.configureOutput({ writeErr: () => {} });
  for (const c of root.commands) c.exitOverride().configureOutput({ writeErr: () => {} });
  const candidates = {
    commands: root.commands.map((c) => c.name()),
    options: [root, ...root.commands]
      .flatMap((c) => c.options.map((o) => o.long ?? ''))
      .filter(Boolean),
  };
  try {
    const first = argv[0];
    if (
      first !== undefined &&
      !first.startsWith('-') &&
      !candidates.commands.includes(first) &&
      first !== 'help'
    ) {
      const near = closestName(first, candidates.commands);
      report(
        argv,
        'commander.unknownCommand',
        t('cli.unknownCommand', {
          name: first,
          hint: near ? t('cli.didYouMean', { name: near }) : '',
        }),
      );
      return EXIT_USAGE;
    }
    await root.parseAsync(argv, { from: 'user' });
    return program.result === null ? EXIT_OK : await program.result;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      ) {
        return EXIT_OK;
      }
      report(argv, err.code, fromCommander(err, candidates));
      return EXIT_USAGE;
    }
    if (err instanceof SilentExit) return err.exitCode;
    if (err instanceof KmiError) {
      report(argv, err.code, t(err.messageKey, err.params));
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    report(argv, 'KMI_E_INTERNAL', `${t('cli.internal', { message })}; ${t('cli.debugHint')}`);
    if (debugEnabled(process.env) && err instanceof Error && err.stack)
      process.stderr.write(`${err.stack}\n`);
    return EXIT_FAILED;
  }
}
