#!/usr/bin/env node
// Builds the library (dist/*.mjs, with unbuild) and the single executable dist/steward
// (bun build --compile). STEWARD_BUILD_VERSION stamps another version into both;
// STEWARD_BUILD_TARGET (linux-x64, linux-x64-baseline, linux-arm64, linux-x64-musl,
// linux-arm64-musl) cross-compiles the executable with that target's Bun runtime, fetched
// from the npm registry once and cached in $BUN_INSTALL_CACHE_DIR (default ~/.bun/install/cache).
// The target and the build time (STEWARD_BUILD_TIME, default now) are stamped in too:
// `steward version --json` shows them.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildExecHelper } from "./exec-helper.mjs";
import { hostTarget, TARGETS } from "./targets.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const version = process.env.STEWARD_BUILD_VERSION || pkg.version;
const outfile = process.env.STEWARD_BUILD_OUTFILE || join(root, "dist", "steward");
// Without a target, bun compiles with the runtime it runs on: the host's (named even when
// it is not a release target).
const target = process.env.STEWARD_BUILD_TARGET || hostTarget();
if (process.env.STEWARD_BUILD_TARGET && !(target in TARGETS)) {
  console.error(`STEWARD_BUILD_TARGET: unknown target '${target}' (known: ${Object.keys(TARGETS).join(", ")})`);
  process.exit(2);
}
const buildTime = process.env.STEWARD_BUILD_TIME || new Date().toISOString();
const bin = (name) => join(root, "node_modules", ".bin", name);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

if (!process.env.STEWARD_BUILD_ONLY_BINARY) run(bin("unbuild"), []);
// The native exec helper (src/workers/exec-helper.c), embedded as a file of its own
// (Bun.embeddedFiles; src/runtime/bun.ts finds it by name).
const arch = TARGETS[target]?.arch ?? process.arch;
const helper = buildExecHelper(root, join(root, "dist", ".exec-helper", target, "steward-exec-helper"), arch);
// Memory of the compiled master (bench/memory-cpu.mjs) and start-up of the exec shim:
// --splitting: each mode (exec shim, CLI, master) parses and evaluates only its own chunks;
// --bytecode (needs --format=esm for main.ts's top-level await): no parsing at start-up;
// --compile-jit-policy: JavaScriptCore's tier-up thresholds x1000, so the run-once start-up
// code stays in the interpreter and the baseline/DFG compilers are never paged in (~3.5 MiB
// of the master's RSS); the master is event-driven and has no hot loop that needs them.
// --no-compile-autoload-dotenv/-bunfig: a compiled Bun file otherwise reads ./.env and
// ./bunfig.toml of whatever directory it is started in, so a stray .env there would set
// STEWARD_* options and reach every worker's environment unasked (REFERENCE §2).
run(bin("bun"), [
  "build",
  "--compile",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  "--splitting",
  "--bytecode",
  "--format=esm",
  "--compile-jit-policy",
  "1000",
  "--minify-syntax",
  "--minify-whitespace",
  ...(process.env.STEWARD_BUILD_TARGET ? [`--target=bun-${target}`] : []),
  `--define=__STEWARD_VERSION__=${JSON.stringify(version)}`,
  `--define=__STEWARD_TARGET__=${JSON.stringify(target)}`,
  `--define=__STEWARD_BUILD_TIME__=${JSON.stringify(buildTime)}`,
  join(root, "src", "main.ts"),
  ...(helper ? [helper] : []),
  "--outfile",
  outfile,
]);
console.log(`built ${outfile} (version ${version}, target ${target}${helper ? ", native exec helper" : ", no native exec helper"})`);
