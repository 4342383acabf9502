/** libc through Deno.dlopen. Only this file and runtime/deno.ts may name Deno. */
import { LIBC_SYMBOLS, type CType, type LibcBinding, type LibcFunctions } from "./symbols.ts";

// deno-lint-ignore no-explicit-any
declare const Deno: any;

const DENO_TYPES: Record<CType, string> = {
  void: "void",
  i16: "i16",
  i32: "i32",
  u32: "u32",
  i64: "i64",
  u64: "u64",
  buffer: "buffer",
  pointer: "pointer",
};

export function bindLibcDeno(path = "libc.so.6"): LibcBinding {
  const table: Record<string, { parameters: string[]; result: string }> = {};
  for (const [name, spec] of Object.entries(LIBC_SYMBOLS)) {
    table[name] = { parameters: spec.args.map((t) => DENO_TYPES[t]), result: DENO_TYPES[spec.returns] };
  }
  const lib = Deno.dlopen(path, table);
  const P = Deno.UnsafePointer;
  const fn: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(LIBC_SYMBOLS)) {
    const raw = lib.symbols[name] as (...a: unknown[]) => unknown;
    const ret = spec.returns as CType;
    const args = spec.args as readonly CType[];
    const needsPtr = args.some((t) => t === "pointer" || t === "u64" || t === "i64");
    fn[name] = (...a: unknown[]): unknown => {
      if (needsPtr) {
        a = a.map((v, i) =>
          args[i] === "pointer" ? P.create(BigInt(v as bigint)) : args[i] === "u64" || args[i] === "i64" ? BigInt(v as bigint) : v,
        );
      }
      const r = raw(...a);
      if (ret === "pointer") return r === null ? 0n : BigInt(P.value(r));
      if (ret === "i64" || ret === "u64") return Number(r);
      return r;
    };
  }
  return {
    fn: fn as LibcFunctions,
    readCString: (address) => (address === 0n ? "" : new Deno.UnsafePointerView(P.create(address)).getCString()),
    readI32: (address) => new Deno.UnsafePointerView(P.create(address)).getInt32(0),
    addressOf: (view) => BigInt(P.value(P.of(view))),
  };
}
