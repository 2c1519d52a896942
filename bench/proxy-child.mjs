// Bench proxy: the compiled kmi proxy (dist/) in its own process, with 4 hand-made keys, a temp state
// folder, the real trace writer and logger. Parent talks to it over IPC: mem, close.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const upstreamUrl = process.env.BENCH_UPSTREAM_URL;
const root = process.env.BENCH_TMP;
const dist = process.env.BENCH_DIST;

const load = (...parts) => import(pathToFileURL(join(dist, ...parts)).href);

function fail(message) {
  process.send({ type: 'error', message }, () => process.disconnect());
}

async function main() {
  if (!upstreamUrl || !root || !dist)
    return fail('proxy-child: BENCH_UPSTREAM_URL, BENCH_TMP and BENCH_DIST must be set');
  const serverJs = join(dist, 'proxy', 'server.js');
  if (!existsSync(serverJs))
    return fail(`the proxy is not built: ${serverJs} is missing (run npm run build)`);

  const { loadConfig } = await load('config', 'load.js');
  const { maskKey, keyHash } = await load('auth', 'mask.js');
  const { openStateBackend } = await load('state', 'open.js');
  const { startProxy } = await load('proxy', 'server.js');
  const { createTraceWriter } = await load('trace', 'writer.js');
  const { createLogger } = await load('log', 'logger.js');
  if (typeof startProxy !== 'function') return fail(`${serverJs} does not export startProxy`);

  const home = join(root, 'home');
  const stateDir = join(root, 'state');
  const authsDir = join(root, '_auths');
  await mkdir(home, { recursive: true });
  await mkdir(authsDir, { recursive: true });

  const { config } = loadConfig({
    env: {
      HOME: home,
      KMI_DRY_RUN: '0',
      KMI_UPSTREAM_BASE_URL: upstreamUrl,
      KMI_PROXY_LISTEN: '127.0.0.1:0',
      KMI_STATE_DIR: stateDir,
      KMI_AUTHS_DIR: authsDir,
      KMI_AUTO_ROTATE_ALLOWED: '1',
      KMI_TIMEZONE: 'UTC',
      KMI_AUDIT_ACTOR: 'bench',
      KMI_TRACE_PROMPTS: '1',
      // --redis runs: the shared state on a local redis-server, plus optional limits.
      ...(process.env.BENCH_STATE_URL ? { KMI_STATE_URL: process.env.BENCH_STATE_URL } : {}),
      ...JSON.parse(process.env.BENCH_EXTRA_ENV || '{}'),
    },
    cwd: root,
  });

  const keys = ['alpha', 'beta', 'gamma', 'delta'].map((label, i) => {
    const apiKey = `sk-bench-${label}-${String(i).repeat(24)}`;
    return {
      label,
      apiKey,
      maskedKey: maskKey(apiKey),
      keyHash: keyHash(apiKey),
      source: join(authsDir, `${label}.env`),
      format: 'env',
      baseUrl: null,
      priority: 0,
      disabled: false,
      email: null,
      provider: null,
    };
  });

  // The file store, or Redis when BENCH_STATE_URL is set (KMI_STATE_URL).
  const store = await openStateBackend(config, {
    prefix: process.env.BENCH_REDIS_PREFIX || undefined,
  });
  try {
    // Round-robin over all four keys, as a pool user would run it.
    await store.update((s) => {
      s.auto_rotate = true;
    });
  } catch (err) {
    process.stderr.write(
      `proxy-child: could not enable auto-rotate (${err?.message ?? err}); using the active key\n`,
    );
  }
  const trace = process.env.BENCH_NO_TRACE
    ? undefined
    : createTraceWriter({
        dir: join(config.stateDir, 'trace'),
        maxBytes: config.traceMaxBytes,
        backups: config.traceBackups,
        enforcePerms: config.enforceFilePerms,
        timezone: config.timezone,
        tracePrompts: config.tracePrompts,
      });
  const logger = createLogger({
    dir: join(config.stateDir, 'logs'),
    maxBytes: config.logMaxBytes,
    backups: config.logBackups,
    enforcePerms: config.enforceFilePerms,
    timezone: config.timezone,
    actor: config.auditActor,
  });

  const proxy = await startProxy({ config, keys, store, ...(trace ? { trace } : {}), logger });
  const port = proxy.port;
  process.on('message', async (msg) => {
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'mem') {
      // RSS as the load left it; then, with --expose-gc, the heap that is really live.
      const mem = process.memoryUsage();
      let liveHeap = null;
      if (typeof globalThis.gc === 'function') {
        globalThis.gc();
        liveHeap = process.memoryUsage().heapUsed;
      }
      process.send({ id: msg.id, type: 'mem', ...mem, liveHeap, trace: trace?.stats() ?? null });
    } else if (msg.type === 'close') {
      try {
        await proxy.close();
        await trace?.close();
        await logger.close();
        await store.close?.();
      } finally {
        // Exit rather than wait for stray timers, so --cpu-prof (BENCH_PROXY_NODE_ARGS) gets written.
        process.send({ id: msg.id, type: 'ok' }, () => process.exit(0));
      }
    }
  });
  process.send({ type: 'ready', port, basePath: config.proxyBasePath, url: proxy.url });
}

main().catch((err) => fail(`proxy-child: ${err?.stack ?? err}`));
