import { constants } from "node:os";

const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno ?? {})) {
  if (!ERRNO_NAMES.has(value as number)) ERRNO_NAMES.set(value as number, name);
}

/** A failed system call: `code` is the errno name (EADDRINUSE), `reason` libc's text. */
export class SysError extends Error {
  readonly code: string;
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly reason: string,
    readonly subject?: string,
  ) {
    const code = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
    super(`${syscall}${subject ? ` ${subject}` : ""}: ${reason} (${code})`);
    this.code = code;
    this.name = "SysError";
  }
}

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}
