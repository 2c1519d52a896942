// Lists the auth files in the auth folder and one level of sub-folders, without reading them.
import type { Dirent, Stats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { AuthFormat } from './types.js';
import type { FileNote } from './entry.js';
import { errorCode } from './fs-error.js';

export interface AuthFileCandidate {
  /** Absolute path. */
  readonly path: string;
  /** Path inside the auth folder, `/`-separated; files are processed in this order. */
  readonly relPath: string;
  readonly format: AuthFormat;
}

/** A note about one path (a file or a folder) found while listing. */
export interface PathNote extends FileNote {
  readonly path: string;
}

export interface Discovery {
  readonly dir: string;
  readonly dirExists: boolean;
  /** Regular files with an auth suffix, sorted by relPath. */
  readonly files: readonly AuthFileCandidate[];
  readonly notes: readonly PathNote[];
}

/** The format a file name stands for, or null for names kmi ignores (other suffixes, hidden files but `.env`). */
export function authFormatOf(name: string): AuthFormat | null {
  if (name === '.env') return 'env';
  if (name.startsWith('.')) return null;
  const lower = name.toLowerCase();
  if (lower.endsWith('.env')) return 'env';
  if (lower.endsWith('.toml')) return 'toml';
  if (lower.endsWith('.json') || lower.endsWith('.json.bak')) return 'json';
  return null;
}

type Kind = { kind: 'file' | 'dir' | 'other' } | { kind: 'error'; code: string };

/** List auth files. Never throws: a missing folder gives dirExists false, anything odd a note. */
export async function discoverAuthFiles(dir: string): Promise<Discovery> {
  const root = resolve(dir);
  const notes: PathNote[] = [];
  let rootStats: Stats;
  try {
    rootStats = await stat(root);
  } catch (err) {
    const code = errorCode(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      notes.push({ path: root, messageKey: 'auth.warn.dirUnreadable', params: { reason: code } });
    }
    return { dir: root, dirExists: false, files: [], notes };
  }
  if (!rootStats.isDirectory()) {
    notes.push({ path: root, messageKey: 'auth.warn.dirNotDirectory', params: {} });
    return { dir: root, dirExists: false, files: [], notes };
  }

  const files: AuthFileCandidate[] = [];
  const visited = new Set<string>([await realpath(root).catch(() => root)]);
  const subdirs = await scan(root, '', true, files, notes);
  for (const sub of subdirs) {
    // A link back to the auth folder (or two links to one folder) would list the same files twice.
    const real = await realpath(join(root, sub)).catch(() => null);
    if (real === null || visited.has(real)) continue;
    visited.add(real);
    await scan(root, sub, false, files, notes);
  }
  files.sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
  return { dir: root, dirExists: true, files, notes };
}

/** Scan one folder; returns the names of sub-folders to scan next (only when `descend`). */
async function scan(
  root: string,
  rel: string,
  descend: boolean,
  files: AuthFileCandidate[],
  notes: PathNote[],
): Promise<string[]> {
  const folder = rel === '' ? root : join(root, rel);
  let entries: Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (err) {
    notes.push({
      path: folder,
      messageKey: 'auth.warn.dirUnreadable',
      params: { reason: errorCode(err) },
    });
    return [];
  }
  const subdirs: string[] = [];
  await Promise.all(
    entries.map(async (entry) => {
      const name = entry.name;
      const path = join(folder, name);
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const format = authFormatOf(name);
      if (format === null && (name.startsWith('.') || !descend)) return;
      const kind = await kindOf(path, entry);
      if (format === null) {
        if (kind.kind === 'dir') subdirs.push(relPath);
        return;
      }
      if (kind.kind === 'file') {
        files.push({ path, relPath, format });
      } else if (kind.kind === 'error') {
        notes.push({ path, ...linkProblem(kind.code) });
      } else {
        notes.push({ path, messageKey: 'auth.warn.notRegularFile', params: {} });
      }
    }),
  );
  return subdirs.sort();
}

async function kindOf(path: string, entry: Dirent): Promise<Kind> {
  if (entry.isFile()) return { kind: 'file' };
  if (entry.isDirectory()) return { kind: 'dir' };
  if (entry.isFIFO() || entry.isSocket() || entry.isBlockDevice() || entry.isCharacterDevice()) {
    return { kind: 'other' };
  }
  // Symbolic links (and file systems that do not report a type) are resolved; loops end in ELOOP.
  try {
    const s = await stat(path);
    return { kind: s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other' };
  } catch (err) {
    return { kind: 'error', code: errorCode(err) };
  }
}

function linkProblem(code: string): FileNote {
  if (code === 'ELOOP') return { messageKey: 'auth.warn.linkLoop', params: {} };
  if (code === 'ENOENT') return { messageKey: 'auth.warn.brokenLink', params: {} };
  return { messageKey: 'auth.warn.unreadable', params: { reason: code } };
}
