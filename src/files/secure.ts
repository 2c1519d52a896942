// Private files and folders: created 0700/0600 when permissions are enforced, written atomically, never deleted.
import { chmod, lstat, mkdir, rename, stat } from 'node:fs/promises';
import writeFileAtomic from 'write-file-atomic';

export const SECURE_DIR_MODE = 0o700;
export const SECURE_FILE_MODE = 0o600;

/** POSIX modes mean nothing on Windows; chmod there only toggles read-only, so we leave it alone. */
function canEnforce(enforce: boolean): boolean {
  return enforce && process.platform !== 'win32';
}

/** The mode new private files get: 0600 when enforced, else undefined (umask / the existing file's mode). */
export function secureFileMode(enforce: boolean): number | undefined {
  return canEnforce(enforce) ? SECURE_FILE_MODE : undefined;
}

/** `mkdir -p`; with `enforce`, the folder itself ends up 0700 even if it already existed. */
export async function ensureSecureDir(path: string, enforce: boolean): Promise<void> {
  const secure = canEnforce(enforce);
  await mkdir(path, secure ? { recursive: true, mode: SECURE_DIR_MODE } : { recursive: true });
  if (secure) await chmod(path, SECURE_DIR_MODE);
}

/** Permission bits of `path` (0o777 part), or null when it does not exist. */
export async function permissionBits(path: string): Promise<number | null> {
  try {
    return (await stat(path)).mode & 0o777;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

/**
 * When enforced and `path` exists with any permission bit outside `mode` (e.g. a 0644 file for 0600),
 * chmod it to `mode`. Returns the previous bits when it changed something, else null.
 */
export async function tightenMode(
  path: string,
  mode: number,
  enforce: boolean,
): Promise<number | null> {
  if (!canEnforce(enforce)) return null;
  const bits = await permissionBits(path);
  if (bits === null || (bits & ~mode) === 0) return null;
  await chmod(path, mode);
  return bits;
}

/** Write via temp file + fsync + rename, so readers see the old or the new content, never a mix. */
export async function writeFileAtomicSecure(
  path: string,
  data: string | Buffer,
  enforce: boolean,
): Promise<void> {
  const mode = secureFileMode(enforce);
  await writeFileAtomic(path, data, mode === undefined ? { fsync: true } : { fsync: true, mode });
}

/**
 * Rename `path` to `<path>.<suffix>` (or `<path>.<suffix>-1`, `-2`, … if taken) and return the new
 * path. The content is kept as it was: this is how broken files are set aside instead of deleted.
 */
export async function moveAside(path: string, suffix: string): Promise<string> {
  const base = `${path}.${suffix}`;
  for (let n = 0; ; n++) {
    const target = n === 0 ? base : `${base}-${n}`;
    if (await exists(target)) continue;
    await rename(path, target);
    return target;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return errnoCode(err) === code;
}

/** `err.code` of a Node system error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
