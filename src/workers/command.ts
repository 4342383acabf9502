/** Finding the program a command names, as execvp would, but before anything starts. */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";

function executableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of `program`, or a one-line reason why there is none. */
export function resolveCommand(program: string, pathVar: string | undefined, cwd: string): { path: string } | { error: string } {
  if (program.includes("/")) {
    const path = isAbsolute(program) ? program : resolve(cwd, program);
    return executableFile(path) ? { path } : { error: `'${program}' is not an executable file` };
  }
  const dirs = (pathVar ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter).filter(Boolean);
  for (const dir of dirs) {
    const path = resolve(cwd, join(dir, program));
    if (executableFile(path)) return { path };
  }
  return { error: `'${program}' not found in PATH` };
}
