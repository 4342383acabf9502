/**
 * Limits on a parsed configuration, checked before anything walks it: nesting depth, and
 * its size once YAML aliases are counted at each use. A YAML alias is a reference to one
 * shared value, so a small file can stand for a billion values (an "alias bomb"); anything
 * that walks or prints such a value would run for minutes and take gigabytes. The walk
 * here stops at the first limit it crosses, so it costs at most MAX_VALUES steps.
 */

/** Far deeper than any configuration steward reads (its own keys are 4 levels deep at most). */
export const MAX_DEPTH = 64;
/** Values (tables, lists, scalars), each alias counted at every use. */
export const MAX_VALUES = 100_000;
/** Characters of text in strings, each alias counted at every use: 4 times the largest file. */
export const MAX_TEXT_CHARS = 4 << 20;

/** The first limit `value` crosses, in words, or undefined. */
export function limitProblem(value: unknown): string | undefined {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  let values = 0;
  let chars = 0;
  while (stack.length > 0) {
    const { value: v, depth } = stack.pop()!;
    if (++values > MAX_VALUES) return `more than ${MAX_VALUES} values (a YAML alias counts as a copy at each use)`;
    if (typeof v === "string") {
      chars += v.length;
      if (chars > MAX_TEXT_CHARS) return `more than ${MAX_TEXT_CHARS} characters of text (a YAML alias counts as a copy at each use)`;
      continue;
    }
    if (typeof v !== "object" || v === null || v instanceof Date) continue;
    if (depth >= MAX_DEPTH) return `nested more than ${MAX_DEPTH} levels deep`;
    const children = Array.isArray(v) ? v : Object.values(v);
    for (const child of children) stack.push({ value: child, depth: depth + 1 });
  }
  return undefined;
}

/**
 * JSON text of `value`, cut after about `max` characters without rendering the rest: the
 * text of an alias bomb is gigabytes long, but the part an error message shows is not.
 */
export function boundedJson(value: unknown, max: number): string {
  let out = "";
  const emit = (text: string): boolean => {
    out += text;
    return out.length <= max;
  };
  const walk = (v: unknown, depth: number): boolean => {
    if (Array.isArray(v)) {
      if (depth >= MAX_DEPTH) return emit("[...]");
      if (!emit("[")) return false;
      for (let i = 0; i < v.length; i++) if ((i > 0 && !emit(",")) || !walk(v[i], depth + 1)) return false;
      return emit("]");
    }
    if (typeof v === "object" && v !== null && !(v instanceof Date)) {
      if (depth >= MAX_DEPTH) return emit("{...}");
      if (!emit("{")) return false;
      let first = true;
      for (const [k, child] of Object.entries(v)) {
        if ((!first && !emit(",")) || !emit(`${JSON.stringify(k)}:`) || !walk(child, depth + 1)) return false;
        first = false;
      }
      return emit("}");
    }
    if (typeof v === "bigint") return emit(String(v));
    const text = typeof v === "string" && v.length > max ? JSON.stringify(v.slice(0, max)) : JSON.stringify(v);
    return emit(text ?? String(v));
  };
  walk(value, 0);
  return out;
}
