import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ProcSource, ProcTree } from "../../src/workers/proctree.ts";
import { pageSizeFrom, parseStatmResident, parseVmRss, TreeRss } from "../../src/workers/rss.ts";

describe("tree RSS (workers/rss.ts)", () => {
  test("statm, status and auxv parsing", () => {
    assert.equal(parseStatmResident("12345 678 90 1 0 100 0\n"), 678);
    assert.equal(parseStatmResident("0 0 0 0 0 0 0\n"), undefined, "a zombie has none");
    assert.equal(parseStatmResident(""), undefined);
    assert.equal(parseVmRss("Name:\tnode\nVmRSS:\t   40960 kB\nVmData: 1 kB\n"), 40960 * 1024);
    const auxv = new Uint8Array(64);
    const view = new DataView(auxv.buffer);
    view.setBigUint64(0, 33n, true); // AT_SYSINFO_EHDR
    view.setBigUint64(8, 0x7fffn, true);
    view.setBigUint64(16, 6n, true); // AT_PAGESZ
    view.setBigUint64(24, 16384n, true);
    assert.equal(pageSizeFrom(auxv), 16384);
    assert.equal(pageSizeFrom(new Uint8Array(32)), 4096, "AT_NULL first: the default");
  });

  test("sums the tree; the tree is looked up again after 10 s, or at once when a member is gone", () => {
    const statm: Record<number, string> = { 100: "0 10 0", 101: "0 20 0", 102: "0 30 0", 103: "0 40 0" };
    let children = [101, 102];
    let lookups = 0;
    const src = { read: (path: string) => statm[Number(path.split("/")[2])] ?? "" } as unknown as ProcSource;
    const tree = { descendantsOf: () => (lookups++, [...children]) } as unknown as ProcTree;
    let clock = 0;
    const rss = new TreeRss(() => clock, tree, src, () => 4096);
    assert.equal(rss.of(100), (10 + 20 + 30) * 4096);
    children = [101, 102, 103];
    clock = 5_000;
    assert.equal(rss.of(100), (10 + 20 + 30) * 4096, "cached tree");
    assert.equal(lookups, 1);
    clock = 10_000;
    assert.equal(rss.of(100), (10 + 20 + 30 + 40) * 4096, "looked up again");
    delete statm[102];
    children = [101, 103];
    clock = 11_000;
    assert.equal(rss.of(100), (10 + 20 + 40) * 4096, "a gone member counts 0");
    clock = 11_500;
    rss.of(100);
    assert.equal(lookups, 3, "and the tree is looked up on the next sample");
    delete statm[100];
    assert.equal(rss.of(100), undefined, "the worker itself gone");
  });
});
