/** NUL-terminated C strings from JavaScript strings. */
const encoder = new TextEncoder();

export function cstr(s: string): Uint8Array {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}
