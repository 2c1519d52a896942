// Logger: app events as JSON lines in kmi.log (time in KMI_TIMEZONE, level, event, fields), written off the hot path.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'audit';

export type LogFields = Readonly<
  Record<string, string | number | boolean | null | readonly string[]>
>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** Audit events (auto-rotate on/off, config writes, unblocks, blocklist clears) carry the actor. */
  audit(event: string, fields?: LogFields): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** A logger that drops everything (tests, commands that must not write). */
export const nullLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  audit: () => {},
  flush: async () => {},
  close: async () => {},
};
