/**
 * Configurations that cannot start (REFERENCE §3, §5.1, §6): each gives one line on stderr that
 * names the value, no stack trace, no worker, and exit 1. Errors in the file name it with
 * the line (`FILE:LINE: key: problem (got VALUE)`); the toml() helper puts the first
 * [global] key on line 2.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import { e2e, fixture, MODES, type RunResult, type TestBed, toml } from "./_harness.ts";

const HTTP_WORKER = fixture("http-worker.cjs");

async function expectStartFailure(bed: TestBed, text: string, mentions: Array<string | RegExp>): Promise<RunResult> {
  const file = bed.write("steward.toml", text);
  const result = await bed.run(["-f", file]);
  const log = result.steward.log();
  assert.equal(result.signal, null, log);
  assert.equal(result.code, 1, `exit code${log}`);
  const named = result.steward.lines.filter((line) =>
    mentions.every((m) => typeof m === "string" ? line.text.includes(m) : m.test(line.text))
  );
  assert.equal(named.length, 1, `one stderr line mentioning ${mentions.join(" and ")}${log}`);
  assert.ok(!result.steward.lines.some((line) => /^\s+at\s/.test(line.text)), `no stack trace${log}`);
  assert.equal(result.steward.started().length, 0, `no worker started${log}`);
  return result;
}

for (const mode of MODES) {
  describe(`configuration errors [${mode}]`, () => {
    test("TOML syntax error", e2e(mode, async (bed) => {
      await expectStartFailure(bed, `[global\nworkers = 2\n`, ["steward.toml:1:"]);
    }));

    test("unknown key", e2e(mode, async (bed) => {
      const text = toml({
        global: { workerz: 2 },
        listen: [{ bind: "tcp://127.0.0.1:0" }],
        worker: { command: HTTP_WORKER },
      });
      await expectStartFailure(bed, text, ["steward.toml:2:", "workerz"]);
    }));

    test("bad duration", e2e(mode, async (bed) => {
      const text = toml({
        global: { "ready-timeout": "10 parsecs" },
        listen: [{ bind: "tcp://127.0.0.1:0" }],
        worker: { command: HTTP_WORKER },
      });
      await expectStartFailure(bed, text, ["steward.toml:2:", "ready-timeout", "10 parsecs"]);
    }));

    test("port in use", e2e(mode, async (bed) => {
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
      bed.onCleanup(() => new Promise<void>((resolve) => holder.close(() => resolve())));
      const port = (holder.address() as net.AddressInfo).port;
      const text = toml({
        listen: [{ name: "http", bind: `tcp://127.0.0.1:${port}` }],
        worker: { command: HTTP_WORKER },
      });
      await expectStartFailure(bed, text, [`127.0.0.1:${port}`, /in use|EADDRINUSE/i]);
    }));

    test("unix socket path that cannot be created", e2e(mode, async (bed) => {
      const path = bed.path("missing-dir/app.sock");
      const text = toml({
        listen: [{ name: "sock", bind: `unix://${path}` }],
        worker: { command: HTTP_WORKER },
      });
      await expectStartFailure(bed, text, [path]);
    }));
  });
}
