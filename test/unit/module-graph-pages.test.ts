import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { elfSection, fileBackedRuns, parseFileMappings, sectionPages } from "../../src/sys/module-graph-pages.ts";

/** A minimal 64-bit little-endian ELF file: a header, sections [null, .text, .bss, .bun, .shstrtab]. */
function elf(): Uint8Array {
  const names = "\0.text\0.bss\0.bun\0.shstrtab\0";
  const nameAt = (n: string) => names.indexOf(`\0${n}\0`) + 1;
  const shoff = 0x200;
  const sections: [string, number, number, number][] = [
    // name, type, offset, size
    ["", 0, 0, 0],
    [".text", 1, 0x1000, 0x3000],
    [".bss", 8, 0x4000, 0x2000], // NOBITS: no bytes in the file
    [".bun", 1, 0x6000, 0x2800],
    [".shstrtab", 3, 0x100, names.length],
  ];
  const bytes = new Uint8Array(shoff + sections.length * 64);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setBigUint64(0x28, BigInt(shoff), true);
  v.setUint16(0x3a, 64, true);
  v.setUint16(0x3c, sections.length, true);
  v.setUint16(0x3e, sections.length - 1, true);
  bytes.set(new TextEncoder().encode(names), 0x100);
  sections.forEach(([name, type, offset, size], i) => {
    const at = shoff + i * 64;
    v.setUint32(at, name ? nameAt(name) : 0, true);
    v.setUint32(at + 4, type, true);
    v.setBigUint64(at + 24, BigInt(offset), true);
    v.setBigUint64(at + 32, BigInt(size), true);
  });
  return bytes;
}
const reader = (bytes: Uint8Array) => (position: number, length: number) => bytes.subarray(position, position + length);

const SMAPS = `00200000-01a39000 r--p 00000000 fe:00 2146430 /usr/bin/steward
Rss:                4772 kB
KernelPageSize:        4 kB
01a40000-0684a000 r-xp 01838000 fe:00 2146430 /usr/bin/steward
KernelPageSize:        4 kB
06867000-06e11000 rw-p 0665e000 fe:00 2146430 /usr/bin/steward
KernelPageSize:        4 kB
06e11000-07000000 rw-p 00000000 00:00 0 
KernelPageSize:        4 kB
7f0000300000-7f0000310000 r--p 00000000 08:01 77 /usr/lib/libc.so.6
KernelPageSize:       16 kB
`;

describe("the embedded module graph's pages (sys/module-graph-pages.ts)", () => {
  test("an ELF section's file range is found by name; NOBITS, absent names and non-ELF files give nothing", () => {
    assert.deepEqual(elfSection(reader(elf()), ".bun"), { offset: 0x6000, size: 0x2800 });
    assert.deepEqual(elfSection(reader(elf()), ".text"), { offset: 0x1000, size: 0x3000 });
    assert.equal(elfSection(reader(elf()), ".bss"), undefined);
    assert.equal(elfSection(reader(elf()), ".bu"), undefined, "a prefix of a name is not the name");
    assert.equal(elfSection(reader(elf()), ".data"), undefined);
    const notElf = elf();
    notElf[0] = 0;
    assert.equal(elfSection(reader(notElf), ".bun"), undefined);
    const thirtyTwoBit = elf();
    thirtyTwoBit[4] = 1;
    assert.equal(elfSection(reader(thirtyTwoBit), ".bun"), undefined);
  });

  test("file mappings carry their offset, inode and page size; anonymous ones are left out", () => {
    const m = parseFileMappings(SMAPS);
    assert.equal(m.length, 4);
    assert.deepEqual(m[2], { start: 0x06867000n, end: 0x06e11000n, offset: 0x0665e000n, inode: 2146430, pageKiB: 4 });
    assert.equal(m[3]!.pageKiB, 16);
  });

  test("the section's whole pages are placed in the mapping that holds its file offset", () => {
    const m = parseFileMappings(SMAPS);
    // a section at file offset 0x6819000 (vaddr 0x6a22000), 0x3ee856 bytes: the last partial page stays
    assert.deepEqual(sectionPages(m, 2146430, { offset: 0x6819000, size: 0x3ee856 }), { start: 0x6a22000n, end: 0x6e10000n, page: 4096n });
    // an unaligned start is rounded up to the next whole page
    assert.deepEqual(sectionPages(m, 2146430, { offset: 0x6819010, size: 0x3000 }), { start: 0x6a23000n, end: 0x6a25000n, page: 4096n });
    assert.equal(sectionPages(m, 2146430, { offset: 0x6819010, size: 0x100 }), undefined, "less than a page: nothing");
    assert.equal(sectionPages(m, 99, { offset: 0x6819000, size: 0x3ee856 }), undefined, "another file's inode");
    assert.equal(sectionPages(m, 2146430, { offset: 0x7000000, size: 0x1000 }), undefined, "no mapping holds it");
  });

  test("only resident pages that are still the file's own are given back, in runs", () => {
    const PRESENT = 1n << 63n;
    const FILE = 1n << 61n;
    const entries = [PRESENT | FILE, PRESENT | FILE, PRESENT, 0n, PRESENT | FILE, FILE, PRESENT | FILE, PRESENT | FILE];
    const v = new DataView(new ArrayBuffer(entries.length * 8));
    entries.forEach((e, i) => v.setBigUint64(i * 8, e, true));
    // page 2 was written (anonymous), 3 is not resident, 5 is not resident either
    assert.deepEqual(fileBackedRuns(v, 0x10000n, 4096n), [
      [0x10000n, 0x2000n],
      [0x14000n, 0x1000n],
      [0x16000n, 0x2000n],
    ]);
    assert.deepEqual(fileBackedRuns(new DataView(new ArrayBuffer(0)), 0x10000n, 4096n), []);
  });
});
