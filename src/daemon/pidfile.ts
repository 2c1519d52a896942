// The daemon's pid file (`<state dir>/proxy.pid`, the pid as text): read, write, remove, and liveness.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomicSecure } from '../files/secure.js';

export function pidFilePath(stateDir: string): string {
  return join(stateDir, 'proxy.pid');
}

/** The pid in the file, or null when there is no file or it does not hold a pid. */
export async function readPidFile(path: string): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 1 ? pid : null;
}

export async function writePidFile(
  path: string,
  pid: number,
  enforcePerms: boolean,
): Promise<void> {
  await writeFileAtomicSecure(path, `${pid}\n`, enforcePerms);
}

export async function removePidFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** True when a process with this pid exists (signal 0 probes without touching it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
