/**
 * `steward upgrade --url URL --sha256 HEX [-S ADDR]` (SPEC §5.5): download a new binary,
 * verify its checksum, run its `version`, put it over the running executable with one
 * atomic rename, and reload the master through its CLI. The reload's own preflight runs
 * the new file's `check` with the master's real arguments; if the reload does not answer
 * `Success=1`, the previous binary is renamed back, so any failure leaves the old binary
 * and the service as they were.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, linkSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { ofetch } from "ofetch";

export interface UpgradeRequest {
  url: string;
  sha256: string;
  /** master CLI address; without one the binary is installed and not reloaded */
  address?: string;
}

export interface UpgradeDeps {
  /** the executable to replace */
  target: string;
  /** sends `reload` to the master CLI and resolves with its reply */
  reload(address: string): Promise<string>;
  stdout(line: string): void;
  stderr(line: string): void;
  pid: number;
}

export class UpgradeError extends Error {}

async function download(url: string): Promise<Uint8Array> {
  try {
    const body = await ofetch(url, { responseType: "arrayBuffer", retry: 1, timeout: 120_000 });
    return new Uint8Array(body);
  } catch (e) {
    throw new UpgradeError(`cannot download ${url}: ${(e as Error).message}`);
  }
}

function versionOf(path: string): string {
  const r = spawnSync(path, ["version"], { encoding: "utf8", timeout: 10_000 });
  if (r.error) throw new UpgradeError(`the new binary does not run: ${r.error.message}`);
  if (r.status !== 0) throw new UpgradeError(`the new binary's 'version' exited with ${r.status ?? r.signal}: ${(r.stderr || "").trim()}`);
  const v = r.stdout.trim();
  if (!v) throw new UpgradeError("the new binary's 'version' printed nothing");
  return v;
}

/** Resolves to the exit code. */
export async function upgrade(req: UpgradeRequest, deps: UpgradeDeps): Promise<number> {
  const { target } = deps;
  const dir = dirname(target);
  const staged = join(dir, `.${basename(target)}.upgrade-${deps.pid}`);
  const previous = join(dir, `.${basename(target)}.previous`);
  try {
    const bytes = await download(req.url);
    const digest = createHash("sha256").update(bytes).digest("hex");
    if (digest !== req.sha256.toLowerCase()) {
      throw new UpgradeError(`checksum mismatch for ${req.url}: expected ${req.sha256.toLowerCase()}, got ${digest}`);
    }
    writeFileSync(staged, bytes, { mode: 0o755 });
    chmodSync(staged, 0o755);
    const version = versionOf(staged);
    // Keep the running binary under another name, then swap atomically.
    rmSync(previous, { force: true });
    linkSync(target, previous);
    renameSync(staged, target);
    deps.stderr(`steward: installed version ${version} at ${target}`);
    if (!req.address) {
      rmSync(previous, { force: true });
      deps.stderr("steward: no master CLI given (-S): reload the master to run the new binary");
      return 0;
    }
    const reply = await deps.reload(req.address).catch((e: Error) => `Success=0\n--\n${e.message}`);
    for (const line of reply.replace(/\n+$/, "").split("\n")) deps.stdout(line);
    if (reply.startsWith("Success=1")) {
      rmSync(previous, { force: true });
      return 0;
    }
    renameSync(previous, target);
    deps.stderr(`steward: the reload failed; the previous binary is back at ${target}`);
    return 1;
  } catch (e) {
    rmSync(staged, { force: true });
    if (existsSync(previous) && !existsSync(target)) renameSync(previous, target);
    if (e instanceof UpgradeError) {
      deps.stderr(`steward: upgrade failed: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
