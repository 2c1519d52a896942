// `kmi proxy-stop`: stop the background proxy, only when it can be verified to be kmi's.
import { stopDaemon } from '../daemon/control.js';
import { t } from '../ui/i18n/index.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

export async function run(ctx: Context, opts: Record<string, unknown>): Promise<CommandResult> {
  const result = await stopDaemon(ctx.config, { force: opts.force === true });
  if (ctx.json) {
    ctx.io.out(JSON.stringify(result, null, 2));
    return 0;
  }
  if (result.staleRemoved) ctx.io.out(t('daemon.staleRemoved'));
  if (!result.stopped) {
    ctx.io.out(t('daemon.notRunning'));
    return 0;
  }
  ctx.io.out(t(result.forced ? 'daemon.killed' : 'daemon.stopped', { pid: result.pid ?? '?' }));
  return 0;
}
