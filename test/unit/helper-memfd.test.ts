/**
 * The exec helper's memfd across a re-exec (workers/native-shim.ts), against the real libc
 * of the runtime this test runs on (Bun or Deno): a sealed memfd named after this
 * executable's helper is adopted from HELPER_FD_VAR; another helper's, an unsealed one, or
 * one that is not a memfd is not; the variable never stays in the environment. And the
 * master's execve (master/os.ts realOs) carries what the starter gives only into that exec.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, readFileSync, readlinkSync } from "node:fs";
import { Posix } from "../../src/sys/posix.ts";
import { ChildStarter, HELPER_FD_VAR, helperMemfd, inheritedMemfd } from "../../src/workers/native-shim.ts";
import { realOs } from "../../src/master/os.ts";
import type { Runtime } from "../../src/runtime/types.ts";

declare const Bun: unknown;

const libc = typeof Bun !== "undefined" ? (await import("../../src/sys/bun.ts")).bindLibcBun() : (await import("../../src/sys/deno.ts")).bindLibcDeno();
const px = new Posix(libc);
const IMAGE = new TextEncoder().encode("#!/bin/true\n");
const NAME = "steward-exec-helper-test0001.";
const F_ADD_SEALS = 1033;

const isOpen = (fd: number) => px.fn.fcntl(fd, 1 /* F_GETFD */, 0) !== -1;
const target = (fd: number) => readlinkSync(`/proc/self/fd/${fd}`);

/** The environment of a new image whose previous image kept `fd` open for it. */
function envWith(fd: number | string): Record<string, string | undefined> {
  return { PATH: "/usr/bin", [HELPER_FD_VAR]: String(fd) };
}

describe("the exec helper's memfd across a re-exec (workers/native-shim.ts)", () => {
  test("helperMemfd: named as asked, sealed, close-on-exec", () => {
    const fd = helperMemfd(px, IMAGE, NAME);
    try {
      assert.equal(target(fd), `/memfd:${NAME} (deleted)`);
      assert.equal(px.fn.fcntl(fd, 1034 /* F_GET_SEALS */, 0) & 0xf, 0xf, "sealed against writes, resizes and more seals");
      assert.ok(px.isCloexec(fd));
      assert.deepEqual(new Uint8Array(readFileSync(`/proc/self/fd/${fd}`)), IMAGE);
    } finally {
      px.close(fd);
    }
  });

  test("the same helper's sealed memfd is adopted, close-on-exec again; the variable is removed", () => {
    const fd = helperMemfd(px, IMAGE, NAME);
    px.setCloexec(fd, false); // as the previous image left it for the execve
    const env = envWith(fd);
    try {
      assert.equal(inheritedMemfd(px, env, NAME), fd);
      assert.ok(px.isCloexec(fd), "close-on-exec again");
      assert.equal(env[HELPER_FD_VAR], undefined, "no child inherits the variable");
      assert.equal(env.PATH, "/usr/bin");
    } finally {
      px.close(fd);
    }
  });

  test("another helper's memfd (a reload into another executable) is closed, not adopted", () => {
    const fd = helperMemfd(px, IMAGE, "steward-exec-helper-other999.");
    const env = envWith(fd);
    assert.equal(inheritedMemfd(px, env, NAME), null);
    assert.ok(!isOpen(fd), "closed");
    assert.equal(env[HELPER_FD_VAR], undefined);
  });

  test("an unsealed memfd of the right name is not trusted: closed", () => {
    const fd = px.check(px.fn.memfd_create(new TextEncoder().encode(`${NAME}\0`), 0x1), "memfd_create");
    assert.equal(inheritedMemfd(px, envWith(fd), NAME), null);
    assert.ok(!isOpen(fd), "closed");
  });

  test("a partly sealed memfd (still writable) is not trusted either", () => {
    const fd = px.check(px.fn.memfd_create(new TextEncoder().encode(`${NAME}\0`), 0x1 | 0x2), "memfd_create");
    px.writeSome(fd, IMAGE);
    px.check(px.fn.fcntl(fd, F_ADD_SEALS, 0x2 | 0x4), "fcntl(F_ADD_SEALS)");
    assert.equal(inheritedMemfd(px, envWith(fd), NAME), null);
    assert.ok(!isOpen(fd), "closed");
  });

  test("a descriptor that is no helper's memfd is left alone; a closed one or a bad number is ignored", () => {
    const fd = openSync("/dev/null", "r");
    try {
      const env = envWith(fd);
      assert.equal(inheritedMemfd(px, env, NAME), null);
      assert.ok(isOpen(fd), "not this code's to close");
      assert.equal(env[HELPER_FD_VAR], undefined);
    } finally {
      closeSync(fd);
    }
    assert.equal(inheritedMemfd(px, envWith(fd), NAME), null);
    for (const bad of ["", "-1", "3x", "99999999999"]) {
      const env = envWith(bad);
      assert.equal(inheritedMemfd(px, env, NAME), null, `'${bad}'`);
      assert.equal(env[HELPER_FD_VAR], undefined);
    }
  });

  test("an image without the helper (from source) takes the variable out and closes a helper's memfd", () => {
    const fd = helperMemfd(px, IMAGE, NAME);
    const env = envWith(fd);
    assert.equal(inheritedMemfd(px, env, undefined), null);
    assert.ok(!isOpen(fd), "closed");
    assert.equal(env[HELPER_FD_VAR], undefined);
  });

  test("ChildStarter adopts the memfd it is handed and gives it to the next exec, open only for that exec", () => {
    const fd = helperMemfd(px, IMAGE, NAME);
    px.setCloexec(fd, false);
    const env = envWith(fd);
    const starter = new ChildStarter(px, { self: { path: "/nonexistent", prefix: [] }, execHelper: `/$bunfs/root/${NAME}`, env }, 1, 9);
    try {
      assert.ok(px.isCloexec(fd));
      const carry = starter.acrossExec();
      assert.deepEqual(carry?.env, { [HELPER_FD_VAR]: String(fd) });
      assert.ok(!px.isCloexec(fd), "inherited by the execve");
      carry!.undo();
      assert.ok(px.isCloexec(fd), "close-on-exec again after a failed execve");
    } finally {
      px.close(fd);
    }
    const none = new ChildStarter(px, { self: { path: "/nonexistent", prefix: [] }, env: {} }, 1, 9);
    assert.equal(none.acrossExec(), undefined, "no helper, nothing to carry");
  });

  test("realOs: the carry is asked with the exec's path, added to that exec's environment only, undone when the execve fails", () => {
    const calls: string[] = [];
    let execEnv: Record<string, string> | undefined;
    const fakePx = {
      pid: () => 1234,
      execve: (_path: string, _argv: string[], env: Record<string, string>) => {
        execEnv = env;
        throw new Error("execve failed");
      },
    } as unknown as Posix;
    const runtime = { env: { A: "1" }, cwd: () => "/", exit: () => undefined as never } as unknown as Runtime;
    const os = realOs(runtime, fakePx, (path) => {
      calls.push(path);
      return { env: { [HELPER_FD_VAR]: "7" }, undo: () => calls.push("undo") };
    });
    assert.throws(() => os.execve("/usr/bin/steward", ["steward"], { B: "2" }), /execve failed/);
    assert.deepEqual(execEnv, { B: "2", [HELPER_FD_VAR]: "7" });
    assert.deepEqual(calls, ["/usr/bin/steward", "undo"]);
    assert.deepEqual(runtime.env, { A: "1" }, "the master's own environment is untouched");
  });
});
