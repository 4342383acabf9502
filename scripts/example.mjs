#!/usr/bin/env node
// `npm run example`: builds dist/steward if needed and runs it in the foreground on the
// embedded example (examples/hello): two Node workers serving HTTP on 127.0.0.1:8080.
// `--smoke` starts it, makes requests, stops it, and exits 0 only if all went well.
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "dist", "steward");
const smoke = process.argv.includes("--smoke");
if (!existsSync(bin)) execFileSync("node", [join(root, "scripts", "build.mjs")], { stdio: "inherit", env: { ...process.env, STEWARD_BUILD_ONLY_BINARY: "1" } });

const port = process.env.PORT || (smoke ? "0" : "8080");
const args = ["-f", join(root, "examples", "hello", "steward.toml"), "-l", `http=tcp://127.0.0.1:${port}`];
console.log(`$ dist/steward ${args.join(" ")}`);
const master = spawn(bin, args, { cwd: join(root, "examples", "hello"), stdio: ["inherit", "inherit", "pipe"] });
let seen = "";
master.stderr.on("data", async (d) => {
  process.stderr.write(d);
  seen += d;
  const bound = /bound to tcp:\/\/127\.0\.0\.1:(\d+)/.exec(seen);
  if (bound && seen.includes("Loading success.") && !master.announced) {
    master.announced = true;
    const url = `http://127.0.0.1:${bound[1]}/`;
    if (!smoke) {
      console.log(`\nsteward is serving ${url}  (try: curl ${url}; kill -USR2 ${master.pid} reloads; Ctrl-C stops)\n`);
      return;
    }
    const pids = new Set();
    for (let i = 0; i < 20; i++) pids.add((await (await fetch(url, { headers: { connection: "close" } })).json()).pid);
    console.log(`smoke: 20 requests answered by worker pid(s) ${[...pids].join(", ")}`);
    master.kill("SIGTERM");
  }
});
process.on("SIGINT", () => master.kill("SIGINT"));
master.on("exit", (code) => process.exit(smoke ? (code === 0 && master.announced ? 0 : 1) : (code ?? 1)));
