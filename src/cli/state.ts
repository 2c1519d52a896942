// `kmi state migrate --to <redis URL | folder | state.json>`: copy the current state (file or Redis) into another backend, refusing to overwrite one in use without --force.
import { basename, dirname, resolve } from 'node:path';
import { KmiError } from '../errors.js';
import { redactUrl } from '../state/redis-client.js';
import { isEmptyState } from '../state/redis-store.js';
import { isRedisUrl, openStateBackend, stateLocation, type StateConfig } from '../state/open.js';
import type { State } from '../state/schema.js';
import { STATE_FILE_NAME } from '../state/store.js';
import { t } from '../ui/i18n/index.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

export async function run(ctx: Context, opts: Record<string, unknown>): Promise<CommandResult> {
  const { config, io } = ctx;
  const to = typeof opts.to === 'string' ? opts.to.trim() : '';
  const targetConfig = targetOf(to, ctx);
  const source = ctx.store();
  const targetLocation = stateLocation(targetConfig);
  if (targetLocation === source.location)
    throw new KmiError('KMI_E_USAGE', 'state.migrateSame', { to: targetLocation });

  const target = await openStateBackend(targetConfig, {
    failOpen: false,
    onEvent: (e) => {
      if (e.kind === 'corrupt')
        io.err(
          `kmi: ${t('state.corrupt', { path: e.path, movedTo: e.movedTo, reason: e.reason })}`,
        );
    },
  });
  try {
    const state = await source.read();
    const existing = await target.read();
    const overwritten = !isEmptyState(existing);
    if (overwritten && opts.force !== true) {
      throw new KmiError('KMI_E_USAGE', 'state.migrateNotEmpty', {
        to: target.location,
        keys: Object.keys(existing.keys).length,
      });
    }
    await target.update((current) => replaceState(current, state));
    const keys = Object.keys(state.keys).length;
    ctx.logger().audit('state_migrated', {
      from: source.location,
      to: target.location,
      keys,
      overwritten,
      actor: config.auditActor,
    });
    if (ctx.json) {
      io.out(
        JSON.stringify({ from: source.location, to: target.location, keys, overwritten }, null, 2),
      );
    } else {
      io.out(t('state.migrateDone', { keys, from: source.location, to: target.location }));
    }
    return 0;
  } finally {
    await target.close();
  }
}

/** The backend settings `--to` names: a Redis URL, a folder, or a path to a state.json. */
function targetOf(to: string, ctx: Context): StateConfig {
  const base = {
    enforceFilePerms: ctx.config.enforceFilePerms,
    stateFailOpen: false,
    stateDir: ctx.config.stateDir,
  };
  if (to === '') throw new KmiError('KMI_E_USAGE', 'state.migrateBadTarget', { to });
  if (isRedisUrl(to)) {
    let ok = false;
    try {
      const url = new URL(to);
      ok = (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
    } catch {
      ok = false;
    }
    if (!ok) throw new KmiError('KMI_E_USAGE', 'state.migrateBadTarget', { to: redactUrl(to) });
    // The cache of the target lives next to the current state, as for any Redis backend.
    return { ...base, stateUrl: to };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(to))
    throw new KmiError('KMI_E_USAGE', 'state.migrateBadTarget', { to: redactUrl(to) });
  const home = ctx.config.home;
  const expanded = to === '~' ? home : to.startsWith('~/') ? `${home}/${to.slice(2)}` : to;
  const path = resolve(process.cwd(), expanded);
  if (basename(path) === STATE_FILE_NAME) return { ...base, stateUrl: '', stateDir: dirname(path) };
  if (path.endsWith('.json')) throw new KmiError('KMI_E_USAGE', 'state.migrateBadTarget', { to });
  return { ...base, stateUrl: '', stateDir: path };
}

/** Make `target` a copy of `source` (fields it does not have are removed). */
function replaceState(target: State, source: State): void {
  const bag = target as Record<string, unknown>;
  for (const key of Object.keys(bag)) delete bag[key];
  for (const key of Object.keys(source)) {
    Object.defineProperty(bag, key, {
      value: structuredClone(source[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
}
