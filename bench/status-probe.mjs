// `steward status -S SOCK` wall time, the probe a container or Kubernetes runs every few
// seconds (target: p50 <= 50 ms). Side by side, alternated run by run: `steward version`
// (the executable's own start-up, the floor of any steward command) and socat sending the
// same `show proc json` (the master's answer without steward's client).
// STEWARD_BIN_BASE=/path/to/other/steward adds that build's `status` as a fourth side.
// Usage: npm run build && node bench/status-probe.mjs [runs-per-round=20] [rounds=3]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binary, median, percentile, requireBinary, root, startSteward, stopGroup } from "./_lib.mjs";

requireBinary();
const runs = Number(process.argv[2] ?? 20);
const rounds = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(join(tmpdir(), "steward-bench-status-"));
const sock = join(dir, "master.sock");
const { child } = await startSteward(["-S", sock, "-l", "tcp://127.0.0.1:0", "-n", "2", "--", process.execPath, join(root, "bench", "worker.cjs")]);

const sides = {
  "steward status": [binary, ["status", "-S", sock]],
  "steward version": [binary, ["version"]],
  "socat show proc json": ["socat", ["-", `UNIX-CONNECT:${sock}`], "show proc json\n"],
};
if (process.env.STEWARD_BIN_BASE) sides["base: steward status"] = [process.env.STEWARD_BIN_BASE, ["status", "-S", sock]];
const ms = (cmd, args, input) => {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { input, encoding: "utf8" });
  const took = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stdout}${r.stderr}`);
  return took;
};
try {
  const p50s = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  for (let round = 1; round <= rounds; round++) {
    const times = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
    for (let i = 0; i < runs; i++) for (const [name, [cmd, args, input]] of Object.entries(sides)) times[name].push(ms(cmd, args, input));
    for (const [name, xs] of Object.entries(times)) {
      p50s[name].push(median(xs));
      console.log(`round ${round}  ${name.padEnd(24)} p50 ${median(xs).toFixed(1)} ms  p90 ${percentile(xs, 90).toFixed(1)} ms  (${runs} runs)`);
    }
  }
  for (const [name, xs] of Object.entries(p50s)) {
    console.log(`${name.padEnd(24)} median of ${rounds} p50s: ${median(xs).toFixed(1)} ms (range ${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`);
  }
} finally {
  await stopGroup(child);
  rmSync(dir, { recursive: true, force: true });
}
