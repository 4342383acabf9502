/** Where steward and the fixtures are, and how each mode runs steward. */
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));
export const FIXTURES: string = join(ROOT, "test", "fixtures");

export type Mode = "binary" | "bun" | "deno";
const ALL_MODES: readonly Mode[] = ["binary", "bun", "deno"];

/**
 * `STEWARD_E2E_MODES=binary,bun,deno` (the default). An unknown name fails every file.
 * The binary is dist/steward unless `STEWARD_E2E_BINARY` names another file.
 */
export const MODES: Mode[] = parseModes(process.env.STEWARD_E2E_MODES);

function parseModes(text: string | undefined): Mode[] {
  if (text === undefined || text.trim() === "") return [...ALL_MODES];
  const modes = text.split(",").map((m) => m.trim()).filter((m) => m !== "");
  for (const mode of modes) {
    if (!ALL_MODES.includes(mode as Mode)) {
      throw new Error(`STEWARD_E2E_MODES: unknown mode '${mode}' (use a comma list of ${ALL_MODES.join(", ")})`);
    }
  }
  return modes as Mode[];
}

/**
 * The argv prefix that runs steward in `mode`. A missing binary fails the test that asked
 * for it (loudly, with the fix): a mode that silently skipped would pass a broken build.
 */
export function stewardCommand(mode: Mode): string[] {
  const main = join(ROOT, "src", "main.ts");
  switch (mode) {
    case "binary":
      // STEWARD_E2E_BINARY tests another build (an installed or downloaded steward)
      return [executable(process.env.STEWARD_E2E_BINARY || join(ROOT, "dist", "steward"), "build it with `npm run build`")];
    case "bun":
      return [executable(join(ROOT, "node_modules", ".bin", "bun"), "run `npm install`"), source(main)];
    case "deno":
      return [executable(join(ROOT, "node_modules", ".bin", "deno"), "run `npm install`"), "run", "-A", source(main)];
  }
}

function executable(path: string, fix: string): string {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`e2e: ${path} is missing or not executable: ${fix} (or narrow STEWARD_E2E_MODES)`);
  }
  return path;
}

function source(path: string): string {
  if (!existsSync(path)) throw new Error(`e2e: ${path} does not exist`);
  return path;
}

/** Absolute path of a program on PATH; fixtures need node, python3 and sh. */
export function which(name: string): string {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`e2e: '${name}' is not on PATH; the fixtures need it`);
}

export const NODE: string = which("node");

/** The command that runs a fixture of test/fixtures by its name, e.g. `fixture("exit-with.cjs", "3")`. */
export function fixture(name: string, ...args: string[]): string[] {
  const file = join(FIXTURES, name);
  if (!existsSync(file)) throw new Error(`e2e: no fixture ${file}`);
  if (name.endsWith(".cjs")) return [NODE, file, ...args];
  if (name.endsWith(".py")) return [which("python3"), file, ...args];
  if (name.endsWith(".sh")) return ["/bin/sh", file, ...args];
  throw new Error(`e2e: don't know how to run fixture ${name}`);
}
