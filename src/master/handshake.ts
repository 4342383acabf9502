/**
 * The preflight's handshake. The master runs the new executable as
 * `EXE __preflight FORMAT NONCE run --check ARGS...` with a fresh random NONCE; a steward
 * that reads state format FORMAT and accepts the configuration prints one line,
 * `steward-preflight PROOF OPTIONS`, where PROOF is the SHA-256 of the tag, the format and
 * the nonce, and OPTIONS the JSON of what its `run` would load. A program that exits 0 and
 * prints a version to any arguments cannot produce PROOF, so it never passes.
 *
 * OPTIONS let a master re-executing into the same file start the new generation before
 * the exec (master/reloader.ts); from any other file they are ignored.
 */

export const PREFLIGHT_MODE = "__preflight";
export const PROOF_TAG = "steward-preflight";

const NONCE = /^[0-9a-f]{32}$/;

export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function isNonce(text: string | undefined): text is string {
  return text !== undefined && NONCE.test(text);
}

export async function proofOf(format: number, nonce: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${PROOF_TAG}\n${format}\n${nonce}`));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The line a steward prints once its check passed (JSON keeps it one line). */
export async function proofLine(format: number, nonce: string, options: unknown): Promise<string> {
  return `${PROOF_TAG} ${await proofOf(format, nonce)} ${JSON.stringify(options ?? null)}`;
}

export type Answer = { ok: true; options: unknown } | { ok: false };

/** Finds the proof for `format` and `nonce` among the lines of a preflight's output. */
export async function readAnswer(lines: readonly string[], format: number, nonce: string): Promise<Answer> {
  const expected = `${PROOF_TAG} ${await proofOf(format, nonce)} `;
  const line = lines.find((l) => l.startsWith(expected));
  if (line === undefined) return { ok: false };
  try {
    return { ok: true, options: JSON.parse(line.slice(expected.length)) };
  } catch {
    return { ok: true, options: undefined };
  }
}

/** `run --check` after the handshake words, inserted before the user's options (and so before any `--`). */
export function checkArgs(runArgs: readonly string[], format: number, nonce: string): string[] {
  const rest = runArgs[0] === "run" ? runArgs.slice(1) : runArgs;
  return [PREFLIGHT_MODE, String(format), nonce, "run", "--check", ...rest];
}
