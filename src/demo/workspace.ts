// The demo's private world: a temp folder with three demo auth files, its own state folder, and a config that points only there.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

/** Temp folders of `kmi demo` start with this (under os.tmpdir(), i.e. $TMPDIR). */
export const DEMO_DIR_PREFIX = 'kmi-demo-';

/** The demo keys, in the order the proxy serves them. */
export const DEMO_LABELS = ['alpha', 'bravo', 'charlie'] as const;
export type DemoLabel = (typeof DEMO_LABELS)[number];

export interface DemoWorkspace {
  /** The temp folder holding everything the demo writes. */
  readonly dir: string;
  readonly authsDir: string;
  readonly stateDir: string;
  /**
   * Built from the demo's own folders only: never the user's environment, .env, state or auth
   * folder, and always dry-run on a free loopback port.
   */
  readonly config: Config;
  /** Remove the temp folder (safe to call twice). */
  remove(): Promise<void>;
}

export interface DemoWorkspaceOptions {
  /** KMI_TIMEZONE of the user, for the trace's times. */
  readonly timezone: string;
  readonly locale: 'en' | 'ru';
  /** Parent folder (default os.tmpdir()). */
  readonly parent?: string;
}

/** A demo key: looks like a Kimi key, is obviously not one, and is new on every run. */
function demoKey(label: string): string {
  return `sk-kmidemo${label}${randomBytes(12).toString('hex')}`;
}

export async function createDemoWorkspace(options: DemoWorkspaceOptions): Promise<DemoWorkspace> {
  // mkdtemp creates the folder 0700: the demo keys are fake, but the habit is the same.
  const dir = await mkdtemp(join(options.parent ?? tmpdir(), DEMO_DIR_PREFIX));
  let removed: Promise<void> | null = null;
  const remove = () => (removed ??= rm(dir, { recursive: true, force: true }));
  try {
    const authsDir = join(dir, '_auths');
    const stateDir = join(dir, 'state');
    await mkdir(authsDir, { mode: 0o700 });
    for (const label of DEMO_LABELS) {
      await writeFile(
        join(authsDir, `${label}.env`),
        `# kmi demo key (not a real key)\nKMI_API_KEY=${demoKey(label)}\nKMI_KEY_LABEL=${label}\n`,
        { mode: 0o600 },
      );
    }
    const { config } = loadConfig({
      // Only the demo's folders: the user's KMI_* settings (live mode, a token, limits, an
      // explicit KMI_ENV_PATH) must not reach it, and no .env is looked up (cwd has none, and no
      // installation folder is given).
      env: {
        HOME: dir,
        KMI_AUTHS_DIR: authsDir,
        KMI_STATE_DIR: stateDir,
        KMI_KIMI_CONFIG_PATH: join(dir, 'kimi', 'config.toml'),
        KMI_DRY_RUN: '1',
        KMI_PROXY_LISTEN: '127.0.0.1:0',
        KMI_TIMEZONE: options.timezone,
        KMI_LOCALE: options.locale,
        KMI_ENFORCE_FILE_PERMS: '1',
        KMI_TRACE_PROMPTS: '1',
        USER: 'kmi-demo',
      },
      cwd: dir,
    });
    return { dir, authsDir, stateDir, config, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
