// `kmi proxy-restart`: stop the background proxy (if any) and start it again.
import { stopDaemon } from '../daemon/control.js';
import { t } from '../ui/i18n/index.js';
import { run as startProxyCommand } from './proxy.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

export async function run(ctx: Context, opts: Record<string, unknown>): Promise<CommandResult> {
  const stopped = await stopDaemon(ctx.config, { force: opts.force === true });
  if (stopped.stopped) ctx.io.out(t('daemon.stopped', { pid: stopped.pid ?? '?' }));
  return startProxyCommand(ctx, { ...opts, foreground: false });
}
