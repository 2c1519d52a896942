// Reads one auth file safely: regular files only, at most 1 MiB, UTF-8 text (a BOM is dropped), never blocking on a FIFO.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { FileNote } from './entry.js';
import { errorCode } from './fs-error.js';

export const MAX_AUTH_FILE_BYTES = 1024 * 1024;

export type ReadOutcome =
  { readonly ok: true; readonly text: string } | { readonly ok: false; readonly skip: FileNote };

// Control characters other than tab, LF, VT, FF and CR mean the file is not text.
const BINARY = /[\x00-\x08\x0e-\x1f]/;

export async function readAuthFile(path: string): Promise<ReadOutcome> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO swapped in after listing must not hang the open.
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    return { ok: false, skip: openProblem(errorCode(err)) };
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return skip('auth.warn.notRegularFile');
    if (stats.size > MAX_AUTH_FILE_BYTES) return tooLarge(stats.size);
    const bytes = await handle.readFile();
    if (bytes.length > MAX_AUTH_FILE_BYTES) return tooLarge(bytes.length);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); // drops a UTF-8 BOM
    } catch {
      return skip('auth.warn.binary');
    }
    if (BINARY.test(text)) return skip('auth.warn.binary');
    return { ok: true, text };
  } catch (err) {
    return { ok: false, skip: openProblem(errorCode(err)) };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function skip(messageKey: 'auth.warn.notRegularFile' | 'auth.warn.binary'): ReadOutcome {
  return { ok: false, skip: { messageKey, params: {} } };
}

function tooLarge(size: number): ReadOutcome {
  return {
    ok: false,
    skip: { messageKey: 'auth.warn.tooLarge', params: { size, limit: MAX_AUTH_FILE_BYTES } },
  };
}

function openProblem(code: string): FileNote {
  if (code === 'ELOOP') return { messageKey: 'auth.warn.linkLoop', params: {} };
  if (code === 'EISDIR') return { messageKey: 'auth.warn.notRegularFile', params: {} };
  return { messageKey: 'auth.warn.unreadable', params: { reason: code } };
}
