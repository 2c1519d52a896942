// Io: where a command writes, and how (TTY, colors, plain, JSON). Built once in bin.ts, faked in tests.
import pc from 'picocolors';

export interface Io {
  /** Write one line (or lines) to stdout. */
  out(text: string): void;
  /** Write one line (or lines) to stderr. */
  err(text: string): void;
  readonly isTTY: boolean;
  /** Colors on: a TTY, and none of --plain, --no-color, NO_COLOR, KMI_PLAIN, KMI_NO_COLOR. */
  readonly color: boolean;
  /** No colors, no box drawing, no emoji. */
  readonly plain: boolean;
  readonly paint: Painter;
}

export interface Painter {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const identity: Painter = {
  bold: (s) => s,
  dim: (s) => s,
  red: (s) => s,
  green: (s) => s,
  yellow: (s) => s,
  cyan: (s) => s,
};

export interface IoOptions {
  readonly plain: boolean;
  readonly noColor: boolean;
  readonly isTTY: boolean;
  readonly write?: { out(s: string): void; err(s: string): void };
}

export function createIo(options: IoOptions): Io {
  const color = options.isTTY && !options.plain && !options.noColor;
  const write = options.write ?? {
    out: (s: string) => process.stdout.write(s),
    err: (s: string) => process.stderr.write(s),
  };
  const p = pc.createColors(true);
  return {
    out: (text) => write.out(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => write.err(text.endsWith('\n') ? text : `${text}\n`),
    isTTY: options.isTTY,
    color,
    plain: options.plain,
    paint: color
      ? { bold: p.bold, dim: p.dim, red: p.red, green: p.green, yellow: p.yellow, cyan: p.cyan }
      : identity,
  };
}

/** An Io writing into arrays, for tests. */
export function bufferIo(
  options: Partial<IoOptions> = {},
): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io = createIo({
    plain: options.plain ?? false,
    noColor: options.noColor ?? false,
    isTTY: options.isTTY ?? false,
    write: { out: (s) => stdout.push(s), err: (s) => stderr.push(s) },
  });
  return Object.assign(io, { stdout, stderr });
}
