/**
 * The libc symbols steward calls through FFI, described once in a runtime-neutral form.
 * `sys/bun.ts` and `sys/deno.ts` bind this same table with bun:ffi and Deno.dlopen.
 *
 * Types: "buffer" is a TypedArray passed by address; "pointer" is a raw address as bigint
 * (on return too); integer types are passed as numbers (u64 as bigint or number).
 */
export type CType = "void" | "i16" | "i32" | "u32" | "i64" | "u64" | "buffer" | "pointer";

export interface SymbolSpec {
  readonly args: readonly CType[];
  readonly returns: CType;
}

export const LIBC_SYMBOLS = {
  // sockets
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "buffer", "u32"], returns: "i32" },
  bind: { args: ["i32", "buffer", "u32"], returns: "i32" },
  listen: { args: ["i32", "i32"], returns: "i32" },
  connect: { args: ["i32", "buffer", "u32"], returns: "i32" },
  getsockname: { args: ["i32", "buffer", "buffer"], returns: "i32" },
  recv: { args: ["i32", "buffer", "u64", "i32"], returns: "i64" },
  recvmsg: { args: ["i32", "buffer", "i32"], returns: "i64" },
  sendto: { args: ["i32", "buffer", "u64", "i32", "buffer", "u32"], returns: "i64" },
  clock_gettime: { args: ["i32", "buffer"], returns: "i32" },
  accept4: { args: ["i32", "pointer", "pointer", "i32"], returns: "i32" },
  read: { args: ["i32", "buffer", "u64"], returns: "i64" },
  write: { args: ["i32", "buffer", "u64"], returns: "i64" },
  poll: { args: ["buffer", "u64", "i32"], returns: "i32" },
  shutdown: { args: ["i32", "i32"], returns: "i32" },
  // descriptors
  fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  close_range: { args: ["u32", "u32", "i32"], returns: "i32" },
  dup2: { args: ["i32", "i32"], returns: "i32" },
  memfd_create: { args: ["buffer", "u32"], returns: "i32" },
  // files
  umask: { args: ["u32"], returns: "u32" },
  chmod: { args: ["buffer", "u32"], returns: "i32" },
  chown: { args: ["buffer", "u32", "u32"], returns: "i32" },
  unlink: { args: ["buffer"], returns: "i32" },
  // processes
  getpid: { args: [], returns: "i32" },
  getppid: { args: [], returns: "i32" },
  kill: { args: ["i32", "i32"], returns: "i32" },
  waitpid: { args: ["i32", "buffer", "i32"], returns: "i32" },
  waitid: { args: ["i32", "i32", "buffer", "i32"], returns: "i32" },
  prctl: { args: ["i32", "u64", "u64", "u64", "u64"], returns: "i32" },
  execve: { args: ["buffer", "buffer", "buffer"], returns: "i32" },
  setsid: { args: [], returns: "i32" },
  setpgid: { args: ["i32", "i32"], returns: "i32" },
  setuid: { args: ["u32"], returns: "i32" },
  setfsuid: { args: ["u32"], returns: "i32" },
  setgid: { args: ["u32"], returns: "i32" },
  setgroups: { args: ["u64", "buffer"], returns: "i32" },
  getuid: { args: [], returns: "u32" },
  // raw system calls without a glibc wrapper (pidfd_open, pidfd_getfd: listeners/steer.ts)
  syscall: { args: ["i64", "i64", "i64", "i64"], returns: "i64" },
  // memory (sys/mappings.ts, sys/signal-park.ts)
  madvise: { args: ["pointer", "u64", "i32"], returns: "i32" },
  mmap: { args: ["pointer", "u64", "i32", "i32", "i32", "i64"], returns: "pointer" },
  mprotect: { args: ["pointer", "u64", "i32"], returns: "i32" },
  memcpy: { args: ["pointer", "buffer", "u64"], returns: "pointer" },
  // posix_spawn: the runtime never learns of these children, so steward's reaper is
  // the only one that waits for them (see master/reaper.ts)
  posix_spawn: { args: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"], returns: "i32" },
  posix_spawn_file_actions_init: { args: ["buffer"], returns: "i32" },
  posix_spawn_file_actions_destroy: { args: ["buffer"], returns: "i32" },
  posix_spawn_file_actions_adddup2: { args: ["buffer", "i32", "i32"], returns: "i32" },
  posix_spawn_file_actions_addclosefrom_np: { args: ["buffer", "i32"], returns: "i32" },
  posix_spawn_file_actions_addchdir_np: { args: ["buffer", "buffer"], returns: "i32" },
  posix_spawnattr_init: { args: ["buffer"], returns: "i32" },
  posix_spawnattr_destroy: { args: ["buffer"], returns: "i32" },
  posix_spawnattr_setflags: { args: ["buffer", "i16"], returns: "i32" },
  posix_spawnattr_setsigmask: { args: ["buffer", "buffer"], returns: "i32" },
  posix_spawnattr_setsigdefault: { args: ["buffer", "buffer"], returns: "i32" },
  sigemptyset: { args: ["buffer"], returns: "i32" },
  sigfillset: { args: ["buffer"], returns: "i32" },
  sigdelset: { args: ["buffer", "i32"], returns: "i32" },
  sigaddset: { args: ["buffer", "i32"], returns: "i32" },
  signal: { args: ["i32", "pointer"], returns: "pointer" },
  pthread_sigmask: { args: ["i32", "buffer", "buffer"], returns: "i32" },
  // the new action by address, so that 0 (NULL) only reads the current one
  sigaction: { args: ["i32", "pointer", "buffer"], returns: "i32" },
  sigpending: { args: ["buffer"], returns: "i32" },
  sigismember: { args: ["buffer", "i32"], returns: "i32" },
  gettid: { args: [], returns: "i32" },
  posix_spawn_file_actions_addopen: { args: ["buffer", "i32", "buffer", "i32", "u32"], returns: "i32" },
  // errors
  __errno_location: { args: [], returns: "pointer" },
  strerror: { args: ["i32"], returns: "pointer" },
} as const satisfies Record<string, SymbolSpec>;

export type LibcSymbolName = keyof typeof LIBC_SYMBOLS;

type JsArg<T extends CType> = T extends "buffer"
  ? ArrayBufferView
  : T extends "pointer" | "u64" | "i64"
    ? bigint | number
    : number;
type JsRet<T extends CType> = T extends "void"
  ? void
  : T extends "pointer"
    ? bigint
    : number;
type JsArgs<A extends readonly CType[]> = { [K in keyof A]: A[K] extends CType ? JsArg<A[K]> : never };

/** The raw functions, typed from the table. i64/u64 returns are normalised to number. */
export type LibcFunctions = {
  [K in LibcSymbolName]: (
    ...args: JsArgs<(typeof LIBC_SYMBOLS)[K]["args"]>
  ) => JsRet<(typeof LIBC_SYMBOLS)[K]["returns"]>;
};

/** What a runtime's FFI binding provides on top of the raw functions. */
export interface LibcBinding {
  fn: LibcFunctions;
  /** the C string at an address */
  readCString(address: bigint): string;
  /** the int at an address */
  readI32(address: bigint): number;
  /** the address of a TypedArray's first byte; keep the array alive while it is used */
  addressOf(view: ArrayBufferView): bigint;
}
