/**
 * Giving back the pages of a compiled executable's embedded module graph (README, "Memory").
 *
 * `bun build --compile` puts steward's code, its bytecode and the embedded files (the native
 * exec helper) in the executable's `.bun` ELF section, which the linker places in the
 * writable data segment; start-up reads ~3 MiB of it, and those pages stay mapped.
 * sys/mappings.ts leaves a writable mapping alone as a whole: some of its pages (.data,
 * .bss, .got) were written and are anonymous copies now. Here only the `.bun` section is
 * looked at, page by page: Bun reads the module graph as constant bytes and never writes
 * it, and /proc/self/pagemap says which of its resident pages are still the file's own
 * (PM_FILE). MADV_DONTNEED unmaps exactly those; what is read again later (the source of a
 * function compiled lazily) is mapped again from the page cache, unchanged. A page that
 * was ever written is anonymous there and is never touched.
 *
 * The section's place is read from the ELF section headers of /proc/self/exe (the file
 * this image was executed from, even if its path was replaced since): a few fields of a
 * documented format, not worth a dependency.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { LibcFunctions } from "./symbols.ts";

/** Where a section lies in the file. */
export interface FileRange {
  offset: number;
  size: number;
}

/** A mapping of /proc/self/smaps (or maps) with the file offset and inode it maps. */
export interface FileMapping {
  start: bigint;
  end: bigint;
  offset: bigint;
  inode: number;
  pageKiB: number;
}

const SECTION_NAME = ".bun";
const MADV_DONTNEED = 4;
const PM_PRESENT = 1n << 63n;
const PM_FILE = 1n << 61n;

/**
 * The file range of section `name` of a 64-bit little-endian ELF file, read through
 * `read(position, length)`; undefined when the file is no such ELF or has no such section.
 */
export function elfSection(read: (position: number, length: number) => Uint8Array, name: string): FileRange | undefined {
  const eh = view(read(0, 64));
  // \x7fELF, ELFCLASS64, ELFDATA2LSB
  if (eh.byteLength < 64 || eh.getUint32(0, false) !== 0x7f454c46 || eh.getUint8(4) !== 2 || eh.getUint8(5) !== 1) return undefined;
  const shoff = Number(eh.getBigUint64(0x28, true));
  const shentsize = eh.getUint16(0x3a, true);
  const shnum = eh.getUint16(0x3c, true);
  const shstrndx = eh.getUint16(0x3e, true);
  if (shoff === 0 || shentsize < 64 || shnum === 0 || shstrndx >= shnum) return undefined;
  const table = view(read(shoff, shnum * shentsize));
  if (table.byteLength < shnum * shentsize) return undefined;
  const header = (i: number) => ({
    name: table.getUint32(i * shentsize, true),
    type: table.getUint32(i * shentsize + 4, true),
    offset: Number(table.getBigUint64(i * shentsize + 24, true)),
    size: Number(table.getBigUint64(i * shentsize + 32, true)),
  });
  const strtab = header(shstrndx);
  const names = read(strtab.offset, strtab.size);
  const wanted = new TextEncoder().encode(`${name}\0`);
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    // SHT_PROGBITS only: a NOBITS section has no bytes in the file
    if (h.type !== 1 || h.size === 0) continue;
    if (wanted.every((b, k) => names[h.name + k] === b)) return { offset: h.offset, size: h.size };
  }
  return undefined;
}

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) \S{4} ([0-9a-f]+) \S+ (\d+)/;

/** The file mappings of a /proc/PID/smaps text, with their offsets, inodes and page sizes. */
export function parseFileMappings(smaps: string): FileMapping[] {
  const out: FileMapping[] = [];
  let cur: FileMapping | undefined;
  for (const line of smaps.split("\n")) {
    const h = HEADER.exec(line);
    if (h) {
      cur = { start: BigInt(`0x${h[1]}`), end: BigInt(`0x${h[2]}`), offset: BigInt(`0x${h[3]}`), inode: Number(h[4]), pageKiB: 4 };
      if (cur.inode !== 0) out.push(cur);
    } else if (cur && line.startsWith("KernelPageSize:")) {
      cur.pageKiB = Number.parseInt(line.slice(15), 10);
    }
  }
  return out;
}

/**
 * The whole pages of `section` as this process maps them from the file with `inode`:
 * [first address, end address), or undefined when no mapping holds the section's start.
 */
export function sectionPages(mappings: readonly FileMapping[], inode: number, section: FileRange): { start: bigint; end: bigint; page: bigint } | undefined {
  const off = BigInt(section.offset);
  const m = mappings.find((m) => m.inode === inode && m.offset <= off && off < m.offset + (m.end - m.start));
  if (!m) return undefined;
  const page = BigInt(m.pageKiB * 1024);
  const first = m.start + (off - m.offset);
  const last = first + BigInt(section.size);
  const start = ((first + page - 1n) / page) * page;
  const end = ((last < m.end ? last : m.end) / page) * page;
  return end > start ? { start, end, page } : undefined;
}

/**
 * The runs of pages, from `start` on, that /proc/self/pagemap `entries` (one 64-bit entry
 * per page) show resident and still the file's own: [address, length] each.
 */
export function fileBackedRuns(entries: DataView, start: bigint, page: bigint): [bigint, bigint][] {
  const runs: [bigint, bigint][] = [];
  let runStart: bigint | undefined;
  const count = entries.byteLength / 8;
  for (let i = 0; i <= count; i++) {
    const e = i < count ? entries.getBigUint64(i * 8, true) : 0n;
    const clean = (e & PM_PRESENT) !== 0n && (e & PM_FILE) !== 0n;
    const at = start + BigInt(i) * page;
    if (clean && runStart === undefined) runStart = at;
    else if (!clean && runStart !== undefined) {
      runs.push([runStart, at - runStart]);
      runStart = undefined;
    }
  }
  return runs;
}

/** The executable's module graph section and inode, looked up once per image. */
let graph: { section: FileRange; inode: number } | null | undefined;

function moduleGraph(): { section: FileRange; inode: number } | null {
  if (graph !== undefined) return graph;
  graph = null; // an unreadable executable is not asked again
  const fd = openSync("/proc/self/exe", "r");
  try {
    const read = (position: number, length: number) => {
      const buf = new Uint8Array(length);
      return buf.subarray(0, readSync(fd, buf, 0, length, position));
    };
    const section = elfSection(read, SECTION_NAME);
    graph = section ? { section, inode: Number(fstatSync(fd).ino) } : null;
    return graph;
  } finally {
    closeSync(fd);
  }
}

/**
 * Unmaps the resident, never-written pages of the executable's module graph from this
 * process (`smaps`: its /proc/self/smaps); returns the KiB given back. No `.bun` section
 * (a runtime's own executable, Deno): nothing to do.
 */
export function dropModuleGraphPages(fn: LibcFunctions, smaps: string): number {
  const g = moduleGraph();
  if (!g) return 0;
  const pages = sectionPages(parseFileMappings(smaps), g.inode, g.section);
  if (!pages) return 0;
  const count = Number((pages.end - pages.start) / pages.page);
  const entries = new Uint8Array(count * 8);
  const fd = openSync("/proc/self/pagemap", "r");
  try {
    if (readSync(fd, entries, 0, entries.length, Number((pages.start / pages.page) * 8n)) !== entries.length) return 0;
  } finally {
    closeSync(fd);
  }
  let bytes = 0n;
  for (const [at, length] of fileBackedRuns(view(entries), pages.start, pages.page)) {
    if (fn.madvise(at, length, MADV_DONTNEED) === 0) bytes += length;
  }
  return Number(bytes / 1024n);
}
