import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { droppable, dropCleanFilePages, parseSmaps } from "../../src/sys/mappings.ts";
import type { LibcBinding } from "../../src/sys/symbols.ts";

declare const Bun: unknown;

const SAMPLE = `55d0a000000-55d0a100000 r-xp 00200000 08:01 1234 /usr/bin/steward
Size:               1024 kB
Rss:                 512 kB
Anonymous:             0 kB
55d0a100000-55d0a180000 r--p 00300000 08:01 1234 /usr/bin/steward
Size:                512 kB
Rss:                 200 kB
Anonymous:            12 kB
55d0a180000-55d0a190000 rw-p 00380000 08:01 1234 /usr/bin/steward
Size:                 64 kB
Rss:                  64 kB
Anonymous:             8 kB
7f0000000000-7f0000100000 rw-p 00000000 00:00 0 
Size:               1024 kB
Rss:                1024 kB
Anonymous:          1024 kB
7f0000200000-7f0000210000 r--s 00000000 08:01 99 /dev/shm/x
Size:                 64 kB
Rss:                  64 kB
Anonymous:             0 kB
7f0000300000-7f0000310000 r--p 00000000 08:01 77 /usr/lib/libc.so.6
Size:                 64 kB
Rss:                   0 kB
Anonymous:             0 kB
7ffc00000000-7ffc00002000 r-xp 00000000 00:00 0                          [vdso]
Size:                  8 kB
Rss:                   8 kB
Anonymous:             0 kB
`;

describe("executable pages given back (sys/mappings.ts)", () => {
  test("smaps is parsed into mappings with their resident and anonymous sizes", () => {
    const m = parseSmaps(SAMPLE);
    assert.equal(m.length, 7);
    assert.deepEqual(m[0], { start: 0x55d0a000000n, end: 0x55d0a100000n, perms: "r-xp", path: "/usr/bin/steward", rssKiB: 512, anonymousKiB: 0 });
    assert.equal(m[3]!.path, "", "an anonymous mapping has no path");
    assert.equal(m[6]!.path, "", "[vdso] is no file");
  });

  test("only private, read-only file mappings with resident pages and no copied page are dropped", () => {
    const picked = droppable(parseSmaps(SAMPLE)).map((m) => `${m.perms} ${m.path}`);
    // not: r--p with a relocated (anonymous) page, rw-p, anonymous memory, a shared
    // mapping, a mapping with nothing resident, the vdso
    assert.deepEqual(picked, ["r-xp /usr/bin/steward"]);
  });

  test("this very process gives back its clean file pages and goes on running", async () => {
    const libc: LibcBinding =
      typeof Bun !== "undefined" ? (await import("../../src/sys/bun.ts")).bindLibcBun() : (await import("../../src/sys/deno.ts")).bindLibcDeno();
    const rssFile = () => Number(/RssFile:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]);
    const before = rssFile();
    const smaps = readFileSync("/proc/self/smaps", "utf8");
    const expected = droppable(parseSmaps(smaps)).reduce((n, m) => n + m.rssKiB, 0);
    assert.ok(expected > 1024, `the runtime's own code is mapped from its executable (${expected} KiB)`);
    const given = dropCleanFilePages(libc.fn, smaps);
    assert.equal(given, expected, "every droppable mapping was given back");
    const after = rssFile();
    assert.ok(after < before - given / 2, `RssFile ${before} -> ${after} KiB after giving back ${given} KiB`);
    // the code comes back on use, unchanged
    assert.deepEqual(JSON.parse(JSON.stringify({ a: [1, 2, { b: "c" }] })), { a: [1, 2, { b: "c" }] });
    assert.equal(await new Promise((r) => setTimeout(() => r("timer"), 5)), "timer");
  });
});
