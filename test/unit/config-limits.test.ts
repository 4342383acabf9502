// Limits on reading and parsing a configuration: size, FIFOs, depth, YAML aliases, and
// error messages that never render more of a value than they show. Each case took seconds to
// hours before the limits; under `bun test` a case that hangs fails by the test's timeout.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConfigResult, formatProblem, loadConfig } from "../../src/config/index.ts";
import { boundedJson, limitProblem, MAX_DEPTH, MAX_VALUES } from "../../src/config/limits.ts";
import { CONFIG_MAX_BYTES, readConfigText } from "../../src/config/read.ts";
import { formatValue } from "../../src/config/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "steward-config-limits-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function problems(name: string, text?: string): Promise<string[]> {
  if (text !== undefined) writeFileSync(join(dir, name), text);
  const result: ConfigResult = await loadConfig({ file: name, overrides: {}, cwd: dir });
  assert.equal(result.ok, false, `${name}: expected problems`);
  return result.ok ? [] : result.problems.map(formatProblem);
}

/** Nine aliases of nine aliases ... of nine strings: 9^9 strings once expanded. */
function aliasBomb(levels = 9): string {
  const lines = [`  a0: &a0 [${Array(9).fill('"lol"').join(",")}]`];
  for (let i = 1; i < levels; i++) lines.push(`  a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(",")}]`);
  return `anchors:\n${lines.join("\n")}\nworker:\n  command: *a${levels - 1}\n`;
}

describe("reading within limits", () => {
  test("a file larger than 1 MiB is refused by its size, before it is read", async () => {
    const big = `[worker]\ncommand = ["x"]\n# ${"x".repeat(CONFIG_MAX_BYTES)}\n`;
    assert.deepEqual(await problems("big.toml", big), [
      "big.toml: the file is too large: 1.0 MiB, a configuration may be 1 MiB at most",
    ]);
  });

  test("a FIFO no one writes to fails after the read timeout; one that is written and closed is read", async () => {
    const fifo = join(dir, "fifo.toml");
    execFileSync("mkfifo", [fifo]);
    const idle = await readConfigText(fifo, { maxBytes: 1024, timeoutMs: 300 });
    assert.deepEqual(idle, { ok: false, problem: "cannot read the file: a FIFO with nothing written to it within 0.3s" });
    const writer = spawn("sh", ["-c", `printf '[worker]\\ncommand = ["x"]\\n' > ${fifo}`], { stdio: "ignore" });
    const written = new Promise((resolve) => writer.on("exit", resolve));
    const read = await readConfigText(fifo, { maxBytes: 1024, timeoutMs: 5_000 });
    await written;
    assert.deepEqual(read, { ok: true, text: '[worker]\ncommand = ["x"]\n' });
    const held = spawn("sh", ["-c", `exec 3>${fifo}; printf 'a = 1\\n' >&3; exec sleep 5`], { stdio: "ignore" });
    const gone = new Promise((resolve) => held.on("exit", resolve));
    const unfinished = await readConfigText(fifo, { maxBytes: 1024, timeoutMs: 500 });
    held.kill("SIGKILL");
    await gone;
    assert.deepEqual(unfinished, { ok: false, problem: "cannot read the file: a FIFO whose writer did not close it within 0.5s" });
  });

  test("a character device is not a configuration", async () => {
    assert.deepEqual(await readConfigText("/dev/null"), { ok: false, problem: "cannot read the file: not a regular file (a character device)" });
  });
});

describe("parsing within limits", () => {
  test(`JSON nested deeper than ${MAX_DEPTH} levels: one line with the line number, found before any quadratic walk`, async () => {
    const n = 100_000;
    const text = `{"worker": {"command": ["x"]},\n"x": ${"[".repeat(n)}${"]".repeat(n)}}`;
    assert.deepEqual(await problems("deep.json", text), [`deep.json:2: syntax error: nested more than ${MAX_DEPTH} levels deep`]);
    const ok = `{"worker": {"command": ["x"]}, "x": ${"[".repeat(MAX_DEPTH - 1)}${"]".repeat(MAX_DEPTH - 1)}}`;
    assert.match((await problems("deep-ok.json", ok)).join("\n"), /x: unknown key/);
  });

  test("YAML and TOML nested too deep", async () => {
    const yaml = `worker:\n  command: ${"[".repeat(1000)}${"]".repeat(1000)}\n`;
    assert.deepEqual(await problems("deep.yaml", yaml), [`deep.yaml:2: syntax error: nesting exceeded maxDepth (${MAX_DEPTH})`]);
    const toml = `[${Array(5000).fill("a").join(".")}]\nb = 1\n`;
    assert.deepEqual(await problems("deep.toml", toml), [`deep.toml: nested more than ${MAX_DEPTH} levels deep`]);
  });

  test("a YAML alias bomb as worker.command: one line, without expanding it", async () => {
    assert.deepEqual(await problems("bomb.yaml", aliasBomb()), [
      `bomb.yaml: more than ${MAX_VALUES} values (a YAML alias counts as a copy at each use)`,
    ]);
  });

  test("a 500 KB line of spaces inside a key: one line naming the key, cut", async () => {
    const yaml = `worker:\n  command: ["x"]\na${" ".repeat(500_000)}b: 1\n`;
    const [line, ...rest] = await problems("spaces.yaml", yaml);
    assert.deepEqual(rest, []);
    assert.match(line ?? "", /^spaces\.yaml:3: \["a {100,}\.\.\.: unknown key$/);
    const toml = `[worker]\ncommand = ["x"]\n[a${" ".repeat(500_000)}.b]\nc = 1\n`;
    assert.deepEqual(await problems("spaces.toml", toml), ["spaces.toml:3: a: unknown key"]);
  });

  test("limitProblem counts every use of a shared value; boundedJson stops rendering at its budget", () => {
    const leaf = ["lol", "lol"];
    let bomb: unknown = leaf;
    for (let i = 0; i < 40; i++) bomb = [bomb, bomb];
    assert.match(limitProblem({ x: bomb }) ?? "", /^more than 100000 values/);
    assert.equal(limitProblem({ worker: { command: ["a", "b"] } }), undefined);
    const text = boundedJson(bomb, 60);
    assert.ok(text.length < 80, text);
    assert.equal(formatValue(bomb), `${"[".repeat(41)}"lol","lol"],["l...`);
    assert.equal(formatValue({ a: [1, "two", null, 3n] }), '{"a":[1,"two",null,3]}');
  });
});
