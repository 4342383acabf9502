/**
 * steward/worker answers steward's `health` command on its CLI socket (src/worker-lib/cli.ts):
 * "ok" by default, what onHealth decides otherwise, beside the worker's own serveCli handler.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onHealth, serveCli } from "../../src/worker.ts";

function ask(path: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path }, () => socket.end(`${line}\n`));
    let reply = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (reply += chunk));
    socket.on("end", () => resolve(reply));
    socket.on("error", reject);
  });
}

describe("steward/worker health", () => {
  test("'ok' by default; onHealth decides after; the worker's handler answers the rest; one socket", async () => {
    const dir = mkdtempSync(join(tmpdir(), "steward-health-"));
    const path = join(dir, "worker.sock");
    try {
      const cli = await serveCli((command) => `echo ${command}`, { path });
      assert.equal(await ask(path, "health"), "ok\n");
      assert.equal(await ask(path, "operator -; health"), "ok\n");
      assert.equal(await ask(path, "show info"), "echo show info\n");
      process.env.STEWARD_CLI_SOCKET = path;
      await onHealth(() => false);
      assert.equal(await ask(path, "health"), "unhealthy\n");
      await onHealth(async () => "database unreachable");
      assert.equal(await ask(path, "health"), "database unreachable\n");
      await onHealth(() => {
        throw new Error("boom");
      });
      assert.equal(await ask(path, "health"), "unhealthy: boom\n");
      await onHealth(() => undefined);
      assert.equal(await ask(path, "health"), "ok\n");
      assert.equal(await ask(path, "show info"), "echo show info\n", "onHealth kept the handler");
      await cli.close();
    } finally {
      delete process.env.STEWARD_CLI_SOCKET;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
