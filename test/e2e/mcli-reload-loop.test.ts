/**
 * The master CLI's listeners stay open through re-exec (REFERENCE §5.3): clients connecting in
 * a tight loop while the master reloads over and over see no refused and no reset
 * connection, and every one of their commands is answered: 50 reloads in every mode
 * (15-35 s a mode on 2 cores: every reload waits for new node workers).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MODES } from "./_modes.ts";
import { e2e } from "./_steward.ts";
import { exchange, freeTcpPort, startCliMaster } from "./_mcli.ts";
import net from "node:net";

const RELOADS = 50;

interface LoopStats {
  ok: number;
  failures: string[];
  slowestMs: number;
}

/** connect → `show version` → half-close → read to the end, again and again until `stop()`. */
async function clientLoop(connect: () => net.Socket, expected: string, stop: () => boolean, stats: LoopStats): Promise<void> {
  while (!stop()) {
    const started = Date.now();
    const outcome = await new Promise<string | undefined>((resolve) => {
      const socket = connect();
      let text = "";
      let error: string | undefined;
      socket.setEncoding("utf8");
      socket.on("connect", () => socket.end("show version\n"));
      socket.on("data", (d: string) => (text += d));
      socket.on("error", (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
      socket.on("close", () => resolve(error ?? (text === expected ? undefined : `reply ${JSON.stringify(text)}`)));
    });
    stats.slowestMs = Math.max(stats.slowestMs, Date.now() - started);
    if (outcome === undefined) stats.ok++;
    else stats.failures.push(outcome);
  }
}

for (const mode of MODES) {
  describe(`master CLI during reloads [${mode}]`, () => {
    test(`clients in a tight loop over unix and TCP during ${RELOADS} reloads: nothing refused, reset or unanswered`, e2e(mode, async (bed) => {
      const port = await freeTcpPort();
      const { steward, admin, operator } = await startCliMaster(bed, { workers: 2, args: ["-S", `127.0.0.1:${port},level,user`] });
      const version = (await exchange(admin, "show version\n")).text;
      assert.match(version, /^\d+\.\d+\.\d+.*\n\n$/);
      let stopping = false;
      const stats: LoopStats = { ok: 0, failures: [], slowestMs: 0 };
      const loops = [
        ...Array.from({ length: 4 }, () => clientLoop(() => net.connect({ path: admin }), version, () => stopping, stats)),
        ...Array.from({ length: 2 }, () => clientLoop(() => net.connect({ host: "127.0.0.1", port }), version, () => stopping, stats)),
      ];
      const started = Date.now();
      try {
        for (let i = 0; i < RELOADS; i++) {
          const { text, error } = await exchange(operator, "reload\n", 60_000);
          assert.ok(text.startsWith("Success=1\n"), `reload ${i + 1}: ${error ?? ""} ${text}${steward.log(20)}`);
          assert.ok(Date.now() - started < 150_000, `${RELOADS} reloads within 150 s`);
        }
      } finally {
        stopping = true;
        await Promise.all(loops);
      }
      const summary = `${RELOADS} reloads in ${Date.now() - started} ms; ${stats.ok} sessions answered, slowest ${stats.slowestMs} ms`;
      assert.deepEqual(stats.failures.slice(0, 10), [], `${stats.failures.length} failed sessions; ${summary}`);
      assert.ok(stats.ok > RELOADS * 10, `the loops kept going: ${summary}`);
      assert.equal(steward.matching(/Loading success\./).length, RELOADS + 1);
      console.log(`  [${mode}] ${summary}`);
    }));
  });
}
