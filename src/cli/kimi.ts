// `kmi kimi [args…]` (and `kimi_robin`): start the proxy if needed, then run the Kimi CLI through it.
import { join } from 'node:path';
import { daemonStatus, startDaemon } from '../daemon/control.js';
import { proxyBaseUrl } from '../daemon/probe.js';
import { KmiError } from '../errors.js';
import { findOnPath, runKimi } from '../kimi/wrapper.js';
import { t } from '../ui/i18n/index.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

export async function run(
  ctx: Context,
  _opts: Record<string, unknown>,
  args: readonly string[],
): Promise<CommandResult> {
  const { config, io } = ctx;
  const binary = await findOnPath('kimi', process.env.PATH);
  if (binary === null) throw new KmiError('KMI_E_KIMI_MISSING', 'kimiCmd.notInstalled');
  const status = await daemonStatus(config);
  if (!status.answering) {
    io.err(t('kimiCmd.startingProxy'));
    await startDaemon(config, { binPath: join(ctx.installDir, 'dist', 'bin.js') });
  }
  const registry = await ctx.auth();
  const code = await runKimi({
    binary,
    args,
    proxyUrl: proxyBaseUrl(config),
    apiKey: config.proxyToken !== '' ? config.proxyToken : 'proxy',
    env: process.env,
    secrets: registry.keys.map((k) => k.apiKey),
  });
  return code;
}
