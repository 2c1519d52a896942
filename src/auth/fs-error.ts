// The errno code of a failed file-system call (EACCES, ELOOP…), shown as the reason in warnings.
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EIO';
}
