/** NUL-terminated C strings from JavaScript strings. */
const encoder = new TextEncoder();

/** A NULL-terminated char*[]; `keep` holds the strings alive while the array is used. */
export interface CStringArray {
  array: BigUint64Array;
  keep: Uint8Array[];
}

export function cstr(s: string): Uint8Array {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}
