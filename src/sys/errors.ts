// errno names of Linux (x86_64 and aarch64 share them). A table rather than node:os,
// whose import alone costs milliseconds in every exec shim.
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 8: "ENOEXEC",
  9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY",
  17: "EEXIST", 18: "EXDEV", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 23: "ENFILE",
  24: "EMFILE", 25: "ENOTTY", 26: "ETXTBSY", 27: "EFBIG", 28: "ENOSPC", 30: "EROFS", 32: "EPIPE",
  36: "ENAMETOOLONG", 38: "ENOSYS", 40: "ELOOP", 88: "ENOTSOCK", 91: "EPROTOTYPE", 93: "EPROTONOSUPPORT",
  95: "EOPNOTSUPP", 97: "EAFNOSUPPORT", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 100: "ENETDOWN",
  101: "ENETUNREACH", 104: "ECONNRESET", 105: "ENOBUFS", 106: "EISCONN", 107: "ENOTCONN",
  110: "ETIMEDOUT", 111: "ECONNREFUSED", 113: "EHOSTUNREACH", 115: "EINPROGRESS",
};

/** A failed system call: `code` is the errno name (EADDRINUSE), `reason` libc's text. */
export class SysError extends Error {
  readonly code: string;
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly reason: string,
    readonly subject?: string,
  ) {
    const code = errnoName(errno);
    super(`${syscall}${subject ? ` ${subject}` : ""}: ${reason} (${code})`);
    this.code = code;
    this.name = "SysError";
  }
}

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}
