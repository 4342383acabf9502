/**
 * `steward upgrade --url URL --sha256 HEX [-S ADDR]` (REFERENCE §5.5): download a new binary,
 * verify its checksum, run its `version`, put it over the running executable with one
 * atomic rename, and reload the master through its CLI. The reload's own preflight runs
 * the new file's `check` with the master's real arguments and its handshake
 * (master/handshake.ts); if the reload does not answer `Success=1`, the previous binary is
 * renamed back, so any failure leaves the old binary and the service as they were.
 *
 * With -S the file replaced is the master's executable, as the master reports it
 * (`exe` in `show proc json`), wherever this copy of steward was run from; without -S it
 * is this copy.
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
  /** this executable: what is replaced when no master is given */
  self: string;
  /** whether `self` is a compiled steward (not a runtime running the source) */
  compiled: boolean;
  /** sends one command line to the master CLI and resolves with its reply */
  ask(address: string, line: string): Promise<string>;
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

/** The executable the master at `address` re-executes, from its `show proc json`. */
async function masterExecutable(address: string, deps: UpgradeDeps): Promise<string> {
  let reply: string;
  try {
    reply = await deps.ask(address, "show proc json");
  } catch (e) {
    throw new UpgradeError(`cannot ask the master at ${address} for its executable: ${(e as Error).message}`);
  }
  let master: { exe?: unknown; compiled?: unknown } | undefined;
  try {
    master = (JSON.parse(reply) as { master?: { exe?: unknown; compiled?: unknown } }).master;
  } catch {
    throw new UpgradeError(`the master at ${address} did not answer 'show proc json' with JSON: ${reply.trim().split("\n")[0] ?? ""}`);
  }
  if (typeof master?.exe !== "string") {
    throw new UpgradeError(`the master at ${address} does not say which executable it runs (a steward older than this one): run 'upgrade' from that executable`);
  }
  if (master.compiled !== true) {
    throw new UpgradeError(`the master at ${address} runs from source on ${master.exe}: there is no steward executable to replace`);
  }
  return master.exe;
}

/** Resolves to the exit code. */
export async function upgrade(req: UpgradeRequest, deps: UpgradeDeps): Promise<number> {
  let target = deps.self;
  let staged: string | undefined;
  let previous: string | undefined;
  try {
    if (req.address) target = await masterExecutable(req.address, deps);
    else if (!deps.compiled) throw new UpgradeError("upgrade replaces the compiled executable; from source (bun/deno) there is none to replace");
    const dir = dirname(target);
    staged = join(dir, `.${basename(target)}.upgrade-${deps.pid}`);
    previous = join(dir, `.${basename(target)}.previous`);
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
    const reply = await deps.ask(req.address, "reload").catch((e: Error) => `Success=0\n--\n${e.message}`);
    for (const line of reply.replace(/\n+$/, "").split("\n")) deps.stdout(line);
    if (reply.startsWith("Success=1")) {
      rmSync(previous, { force: true });
      return 0;
    }
    renameSync(previous, target);
    deps.stderr(`steward: the reload failed; the previous binary is back at ${target}`);
    return 1;
  } catch (e) {
    if (staged) rmSync(staged, { force: true });
    if (previous && existsSync(previous) && !existsSync(target)) renameSync(previous, target);
    if (e instanceof UpgradeError) {
      deps.stderr(`steward: upgrade failed: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
