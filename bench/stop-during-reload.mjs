#!/usr/bin/env node
// Stop signals during a reload, two builds side by side (alternated): how many masters
// lose a SIGTERM sent d ms after SIGUSR2 (d = 0..14 ms; lost = still running 3 s later),
// and what holding the signals across the execve costs a reload (SIGUSR2 to the second
// `Loading success.`, median and range). The worker is `sleep` with `--ready spawn`, so
// the reload itself is all that is timed.
// Usage: node bench/stop-during-reload.mjs OLD_BINARY [NEW_BINARY=dist/steward] [rounds=3]
import { binary, median, sleep, startLogged } from "./_lib.mjs";

const [oldBin, newBin = binary, roundsArg = "3"] = process.argv.slice(2);
if (!oldBin) {
  console.error("usage: node bench/stop-during-reload.mjs OLD_BINARY [NEW_BINARY] [rounds]");
  process.exit(2);
}
const rounds = Number(roundsArg);
const args = ["--ready", "spawn", "--hard-stop-after", "3s", "--", "sleep", "1000"];

function exited(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once("exit", () => (clearTimeout(t), resolve(true)));
  });
}

function kill(child) {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {}
}

/** One master: SIGUSR2, SIGTERM `d` ms later; true when it stopped with exit 0 within 3 s. */
async function stopTrial(bin, d) {
  const { child } = await startLogged(bin, args, { ready: /Loading success\./ });
  process.kill(child.pid, "SIGUSR2");
  await sleep(d);
  process.kill(child.pid, "SIGTERM");
  const ok = (await exited(child, 3000)) && child.exitCode === 0;
  kill(child);
  await exited(child, 3000);
  return ok;
}

/** One master: milliseconds from SIGUSR2 to the reload's `Loading success.` */
async function reloadMs(bin) {
  let t0 = 0;
  let done;
  const reloaded = new Promise((r) => (done = r));
  let seen = 0;
  const { child } = await startLogged(bin, args, {
    ready: /Loading success\./,
    onLine: (line, t) => {
      if (/Loading success\./.test(line) && ++seen === 2) done(t - t0);
    },
  });
  t0 = performance.now();
  process.kill(child.pid, "SIGUSR2");
  const ms = await reloaded;
  kill(child);
  await exited(child, 3000);
  return ms;
}

const sides = [
  ["old", oldBin],
  ["new", newBin],
];
const lost = { old: 0, new: 0 };
const trials = { old: 0, new: 0 };
const reload = { old: [], new: [] };
for (let r = 0; r < rounds; r++) {
  for (let d = 0; d <= 14; d++) {
    for (const [name, bin] of r % 2 === 0 ? sides : [...sides].reverse()) {
      trials[name]++;
      if (!(await stopTrial(bin, d))) lost[name]++;
      reload[name].push(await reloadMs(bin));
    }
  }
}
for (const [name, bin] of sides) {
  const xs = reload[name];
  console.log(
    `${name} (${bin}): stop lost in ${lost[name]}/${trials[name]} reloads; reload ${median(xs).toFixed(1)} ms median (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}, n=${xs.length})`,
  );
}
