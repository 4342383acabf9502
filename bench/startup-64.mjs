#!/usr/bin/env node
// Time from starting steward to "Loading success." with 64 workers that must each be
// observed accepting. Tiny worker: python3 blocking in accept(); also a Node worker.
// Usage: node bench/startup-64.mjs [workers=64] [rounds=3]
import { existsSync } from "node:fs";
import { join } from "node:path";
import { median, requireBinary, root, startSteward, stopGroup } from "./_lib.mjs";

requireBinary();
const n = Number(process.argv[2] || 64);
const rounds = Number(process.argv[3] || 3);
const kinds = {
  "tiny (python3 accept loop)": [existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3", join(root, "bench", "tiny-worker.py")],
  "node http": ["node", join(root, "bench", "worker.cjs")],
};
for (const [name, cmd] of Object.entries(kinds)) {
  const times = [];
  for (let r = 0; r < rounds; r++) {
    const s = await startSteward(["-l", "http=tcp://127.0.0.1:0", "-n", String(n), "--ready-timeout", "60s", "--", ...cmd], {
      timeoutMs: 90000,
    });
    const readyLines = s.lines.filter((l) => /is ready$/.test(l)).length;
    if (readyLines !== n) throw new Error(`expected ${n} ready lines, saw ${readyLines}`);
    times.push(s.readyMs);
    await stopGroup(s.child);
  }
  console.log(
    `${n} workers, ${name}: all accepting in median ${Math.round(median(times))} ms (min ${Math.round(Math.min(...times))}, max ${Math.round(Math.max(...times))}) (target <= 2000 ms)`,
  );
}
