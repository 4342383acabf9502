/**
 * The master CLI's two ends outside the master: the client (`steward cli`, `steward
 * reload`) against a stand-in master on a unix socket, and the worker-side helper
 * (src/worker.ts) against the master's own forwarding function. Runs under `bun test` and
 * `deno test`, so the helper is exercised under both runtimes.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { addressName, clientAddress, commandLines, createMasterCliClient, reloadSucceeded, type ClientTerminal } from "../../src/mcli/client.ts";
import { forward } from "../../src/mcli/commands.ts";
import { parseForwarded, serveCli } from "../../src/worker.ts";

function tempDir(): string {
  return mkdtempSync(join(existsSync("/tmp") ? "/tmp" : tmpdir(), "stw-unit-"));
}

describe("client: arguments and addresses", () => {
  test("each argument is a command line, unless all are single words (then one command)", () => {
    assert.deepEqual(commandLines([]), []);
    assert.deepEqual(commandLines(["show", "proc"]), ["show proc"]);
    assert.deepEqual(commandLines(["@1", "show", "info"]), ["@1 show info"]);
    assert.deepEqual(commandLines(["show proc", "show version"]), ["show proc", "show version"]);
    assert.deepEqual(commandLines(["help", "show proc"]), ["help", "show proc"]);
    assert.deepEqual(commandLines(["show proc;show version"]), ["show proc;show version"]);
    assert.deepEqual(commandLines(["echo a\nb"]), ["echo a b"], "a newline cannot split one argument into two lines");
  });

  test("-S values: a socket path (relative to cwd) or HOST:PORT; ',key,value' settings ignored", () => {
    assert.deepEqual(clientAddress("/run/app.sock", "/x"), { path: "/run/app.sock" });
    assert.deepEqual(clientAddress("/run/app.sock,level,user,mode,600", "/x"), { path: "/run/app.sock" });
    assert.deepEqual(clientAddress("./m.sock", "/srv"), { path: "/srv/m.sock" });
    assert.deepEqual(clientAddress("127.0.0.1:9999", "/x"), { host: "127.0.0.1", port: 9999 });
    assert.deepEqual(clientAddress("[::1]:9999,level,operator", "/x"), { host: "::1", port: 9999 });
    assert.equal(typeof clientAddress("127.0.0.1:notaport", "/x"), "string");
    assert.equal(typeof clientAddress("", "/x"), "string");
    assert.equal(addressName(" /run/app.sock,level,user"), "/run/app.sock");
  });

  test("a reload succeeded iff the reply starts with Success=1", () => {
    assert.equal(reloadSucceeded("Success=1\n--\n[NOTICE] ...\n\n"), true);
    assert.equal(reloadSucceeded("Success=1"), true);
    assert.equal(reloadSucceeded("Success=0\n--\nAnother reload is still in progress.\n\n"), false);
    assert.equal(reloadSucceeded("Success=10\n"), false);
    assert.equal(reloadSucceeded("Permission denied\n\n"), false);
    assert.equal(reloadSucceeded(""), false);
  });
});

/** A stand-in master: records what each connection sent until it half-closed, answers with `answer(received)`. */
async function fakeMaster(path: string, answer: (received: string) => string): Promise<{ server: Server; received: string[] }> {
  const received: string[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("end", () => {
      received.push(text);
      socket.end(answer(text));
    });
  });
  await new Promise<void>((resolve) => server.listen({ path }, resolve));
  return { server, received };
}

function terminal(stdinText = "", isTTY = false) {
  const out: string[] = [];
  const err: string[] = [];
  const stdin = Object.assign(Readable.from([stdinText]), { isTTY });
  const term: ClientTerminal = {
    cwd: "/",
    stdin,
    stdout: new Writable({ write: (_c, _e, cb) => cb() }),
    write: (text) => out.push(text),
    stderr: (line) => err.push(line),
  };
  return { term, out, err };
}

describe("client: against a stand-in master", () => {
  test("cli: sends every command line, half-closes, prints the replies, exit 0", async () => {
    const dir = tempDir();
    const path = join(dir, "m.sock");
    const { server, received } = await fakeMaster(path, (text) => `got ${JSON.stringify(text)}\n\n`);
    try {
      const { term, out, err } = terminal();
      const client = createMasterCliClient(term);
      assert.equal(await client.cli({ address: `${path},level,user`, words: ["show proc", "@1 show info"] }), 0);
      assert.deepEqual(received, ["show proc\n@1 show info\n"]);
      assert.equal(out.join(""), `got "show proc\\n@1 show info\\n"\n\n`);
      assert.deepEqual(err, []);
      // no command, stdin not a terminal: the lines come from stdin
      const piped = terminal("show version\nquit\n");
      assert.equal(await createMasterCliClient(piped.term).cli({ address: path, words: [] }), 0);
      assert.equal(received[1], "show version\nquit\n");
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("reload: exit 0 iff Success=1, the reply printed either way", async () => {
    const dir = tempDir();
    const path = join(dir, "m.sock");
    let reply = "Success=1\n--\n[NOTICE]   (1) : Loading success.\n\n";
    const { server, received } = await fakeMaster(path, () => reply);
    try {
      const ok = terminal();
      assert.equal(await createMasterCliClient(ok.term).reload({ address: path }), 0);
      assert.equal(ok.out.join(""), reply);
      reply = "Success=0\n--\nAnother reload is still in progress.\n\n";
      const busy = terminal();
      assert.equal(await createMasterCliClient(busy.term).reload({ address: path }), 1);
      assert.equal(busy.out.join(""), reply);
      assert.deepEqual(received, ["reload\n", "reload\n"]);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("no master: exit 1 with one line naming the address; a bad address is a usage error (2)", async () => {
    const dir = tempDir();
    try {
      const missing = join(dir, "none.sock");
      for (const send of ["cli", "reload"] as const) {
        const { term, err, out } = terminal();
        const client = createMasterCliClient(term);
        const code = send === "cli" ? await client.cli({ address: `${missing},level,user`, words: ["show proc"] }) : await client.reload({ address: missing });
        assert.equal(code, 1);
        assert.equal(err.length, 1);
        assert.match(err[0]!, new RegExp(`^steward: cannot connect to the master CLI at ${missing}: `));
        assert.deepEqual(out, []);
      }
      writeFileSync(join(dir, "plain"), "");
      const notSocket = terminal();
      assert.equal(await createMasterCliClient(notSocket.term).cli({ address: join(dir, "plain"), words: ["help"] }), 1);
      assert.match(notSocket.err[0]!, /cannot connect to the master CLI at .*plain: /);
      const refused = terminal();
      assert.equal(await createMasterCliClient(refused.term).cli({ address: "127.0.0.1:1", words: ["help"] }), 1);
      assert.match(refused.err[0]!, /^steward: cannot connect to the master CLI at 127\.0\.0\.1:1: connection refused/);
      const bad = terminal();
      assert.equal(await createMasterCliClient(bad.term).reload({ address: "127.0.0.1:port" }), 2);
      assert.match(bad.err[0]!, /^steward: option '--master-cli' \(-S\): /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("worker helper (src/worker.ts)", () => {
  test("the level prefix the master adds below admin", () => {
    assert.deepEqual(parseForwarded("show info"), { command: "show info", level: "admin" });
    assert.deepEqual(parseForwarded("user -; show info"), { command: "show info", level: "user" });
    assert.deepEqual(parseForwarded("operator -; echo a\\;b\n"), { command: "echo a\\;b", level: "operator" });
    assert.deepEqual(parseForwarded("users -; x"), { command: "users -; x", level: "admin" });
  });

  test("a no-op without STEWARD_CLI_SOCKET", async () => {
    const service = await serveCli(() => "never");
    await service.close();
  });

  test("serves what the master forwards: mode 600, stale file replaced, levels, async replies, errors", async () => {
    const dir = tempDir();
    const path = join(dir, "worker.sock");
    writeFileSync(path, "stale");
    const seen: string[] = [];
    const service = await serveCli(
      async (command, { level }) => {
        seen.push(`${level}:${command}`);
        if (command === "fail") throw new Error("boom");
        if (command === "slow") await new Promise((resolve) => setTimeout(resolve, 50));
        return `${level} ran ${command}`;
      },
      { path },
    );
    try {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.ok(statSync(path).isSocket());
      assert.equal(await forward(path, "show info"), "admin ran show info");
      assert.equal(await forward(path, "operator -; show info"), "operator ran show info");
      assert.equal(await forward(path, "user -; slow"), "user ran slow");
      assert.equal(await forward(path, "fail"), "Error: boom");
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => forward(path, `echo ${i}`)));
      assert.deepEqual(many, Array.from({ length: 20 }, (_, i) => `admin ran echo ${i}`));
      assert.deepEqual(seen.slice(0, 4), ["admin:show info", "operator:show info", "user:slow", "admin:fail"]);
    } finally {
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(existsSync(path), false, "close removes the socket file");
  });

  test("the master's forward reports a worker without a CLI", async () => {
    assert.equal(await forward("/nonexistent/steward-unit/worker.sock", "show info"), "Can't connect to the target CLI!");
  });

  test("a line without its newline (half-close) is a command too", async () => {
    const dir = tempDir();
    const path = join(dir, "w.sock");
    const service = await serveCli((command) => `[${command}]`, { path });
    try {
      const reply = await new Promise<string>((resolve) => {
        const s = connect({ path });
        let text = "";
        s.setEncoding("utf8");
        s.on("data", (d: string) => (text += d));
        s.on("close", () => resolve(text));
        s.on("connect", () => s.end("user -; no newline"));
      });
      assert.equal(reply, "[no newline]\n");
    } finally {
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
