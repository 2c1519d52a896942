// `kmi proxy`: start the rotating proxy in the background (default) or in this terminal (`--foreground`).
import { join } from 'node:path';
import { daemonLogPath, startDaemon } from '../daemon/control.js';
import { pidFilePath, removePidFile, readPidFile, writePidFile } from '../daemon/pidfile.js';
import { proxyBaseUrl } from '../daemon/probe.js';
import { checkBindAllowed, startProxy } from '../proxy/server.js';
import { createTraceWriterFor } from '../trace/writer.js';
import { t } from '../ui/i18n/index.js';
import { KmiError } from '../errors.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

/** The lines a client needs to use the proxy (never the token itself). */
export function clientEnvLines(ctx: Context, url: string): string[] {
  const anthropic = url.replace(/\/v1$/, '');
  const lines = [
    `KIMI_BASE_URL=${url}`,
    `OPENAI_BASE_URL=${url}`,
    `ANTHROPIC_BASE_URL=${anthropic}`,
  ];
  lines.push(ctx.config.proxyToken !== '' ? t('proxyCmd.tokenHint') : t('proxyCmd.keyHint'));
  return lines;
}

export async function run(ctx: Context, opts: Record<string, unknown>): Promise<CommandResult> {
  const { config, io } = ctx;
  checkBindAllowed(config);
  if (opts.foreground !== true) {
    ctx.banner();
    const started = await startDaemon(config, { binPath: join(ctx.installDir, 'dist', 'bin.js') });
    const url = proxyBaseUrl(config);
    if (started.replaced !== null) io.out(t('proxyCmd.replaced', { pid: started.replaced }));
    io.out(t('proxyCmd.started', { url, pid: started.pid, log: started.logPath }));
    io.out(t('proxyCmd.dashboard', { url: `${url}/_kmi/ui` }));
    io.out(t('proxyCmd.envIntro'));
    for (const line of clientEnvLines(ctx, url)) io.out(`  ${line}`);
    return 0;
  }
  return runForeground(ctx, opts.daemonChild === true);
}

async function runForeground(ctx: Context, daemonChild: boolean): Promise<CommandResult> {
  const { config, io } = ctx;
  const registry = await ctx.auth();
  for (const w of registry.warnings) io.err(`kmi: ${t(w.messageKey, w.params)}`);
  if (registry.keys.length === 0)
    throw new KmiError('KMI_E_NO_KEYS', 'proxyCmd.noKeys', { dir: registry.dir });
  ctx.banner();
  const logger = ctx.logger();
  const trace = createTraceWriterFor(config);
  const proxy = await startProxy({
    config,
    keys: registry.keys,
    store: ctx.store(),
    trace,
    logger,
    version: ctx.version,
  });
  const pidFile = pidFilePath(config.stateDir);
  if (daemonChild) await writePidFile(pidFile, process.pid, config.enforceFilePerms);
  logger.info('proxy_started', {
    url: proxy.url,
    pid: process.pid,
    dry_run: config.dryRun,
    keys: registry.keys.length,
  });
  io.out(t('proxyCmd.listening', { url: proxy.url, keys: registry.keys.length }));
  if (!daemonChild) {
    io.out(t('proxyCmd.envIntro'));
    for (const line of clientEnvLines(ctx, proxy.url)) io.out(`  ${line}`);
  } else {
    io.out(t('proxyCmd.daemonLog', { log: daemonLogPath(config) }));
  }

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      io.out(t('proxyCmd.stopping', { signal }));
      void (async () => {
        try {
          await proxy.close();
          await trace.close();
          logger.info('proxy_stopped', { signal });
          if (daemonChild && (await readPidFile(pidFile)) === process.pid)
            await removePidFile(pidFile);
        } finally {
          resolve();
        }
      })();
    };
    // Persistent handlers, not once(): write-file-atomic's signal-exit hook re-raises a signal when it
    // sees no other listener, which would kill the proxy mid-drain if ours had already been removed.
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return 0;
}
