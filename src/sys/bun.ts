/** libc through bun:ffi. Only this file and runtime/bun.ts may name Bun. */
import { dlopen, ptr, read, CString, type FFIFunction } from "bun:ffi";
import { LIBC_SYMBOLS, type CType, type LibcBinding, type LibcFunctions } from "./symbols.ts";

const BUN_TYPES: Record<CType, string> = {
  void: "void",
  i16: "i16",
  i32: "i32",
  u32: "u32",
  i64: "i64",
  u64: "u64",
  buffer: "ptr",
  pointer: "ptr",
};

export function bindLibcBun(path = "libc.so.6"): LibcBinding {
  const table: Record<string, FFIFunction> = {};
  for (const [name, spec] of Object.entries(LIBC_SYMBOLS)) {
    table[name] = {
      args: spec.args.map((t) => BUN_TYPES[t]),
      returns: BUN_TYPES[spec.returns],
    } as FFIFunction;
  }
  const lib = dlopen(path, table);
  const fn: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(LIBC_SYMBOLS)) {
    const raw = lib.symbols[name] as unknown as (...a: unknown[]) => unknown;
    const ret = spec.returns as CType;
    const args = spec.args as readonly CType[];
    const needsPtr = args.some((t) => t === "pointer");
    fn[name] = (...a: unknown[]): unknown => {
      if (needsPtr) a = a.map((v, i) => (args[i] === "pointer" ? Number(v) : v));
      const r = raw(...a);
      if (ret === "pointer") return BigInt((r as number | null) ?? 0);
      if (ret === "i64" || ret === "u64") return Number(r);
      return r;
    };
  }
  return {
    fn: fn as LibcFunctions,
    readCString: (address) => (address === 0n ? "" : new CString(Number(address) as never).toString()),
    readI32: (address) => read.i32(Number(address) as never, 0),
    addressOf: (view) => BigInt(ptr(view as Uint8Array)),
  };
}
