/**
 * The layer rules of ARCHITECTURE.md, checked on the source as text (issue 15, item 5):
 * - runtime names (`Bun.`, `Deno.`, `bun:` and `npm:` imports) only in src/runtime, src/sys,
 *   src/main.ts and src/worker-lib;
 * - no `process.env` or `process.cwd` in src/master (the master reads them through Runtime);
 * - no `process` and no `node:fs` in src/master but in its OS port, src/master/os.ts;
 * - no import cycle among the files of src/;
 * - no import from a lower layer to a higher one.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SRC = join(ROOT, "src");

/** Lowest first. A file may import from its own layer and from any layer below it. */
const LAYERS: readonly (readonly string[])[] = [
  // no steward import above them: libc, constants, the log line format, the master's state
  // as data, and the library that runs inside users' workers
  ["sys", "worker-lib", "exit-codes.ts", "version.ts", "log-format.ts", "log.ts", "state.ts"],
  ["runtime"], // the runtime port (types.ts) and its Bun and Deno adapters
  ["config"], // loading and validating configuration: pure but for reading files
  ["listeners", "notify", "workers", "host"], // sockets, sd_notify, child plans and readiness, the master's files
  ["mcli", "metrics"], // the master CLI and the metrics endpoint, served by the master
  ["master"], // the supervisor and the process wiring it all together
  ["cli", "upgrade"], // the command line
  ["main.ts", "index.ts", "worker.ts"], // entry points
];

/** Where a runtime may be named: the adapters, libc, the entry point and worker-lib. */
const RUNTIME_ALLOWED = [
  "runtime/",
  "sys/",
  "main.ts",
  // worker-lib runs inside users' workers, on whichever runtime they chose, and is not
  // given a runtime adapter: it must feature-detect Bun and Deno itself.
  "worker-lib/",
];

/** The one file of src/master that touches the OS through `process` and `node:fs`. */
const OS_PORT = "master/os.ts";


function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/**
 * The code with comments and string contents blanked out (template literals keep their
 * `${...}` expressions). Enough for this repository's own sources: a regular-expression
 * literal holding a quote or a comment opener would confuse it, and there is none.
 */
function codeOnly(text: string): string {
  let out = "";
  let i = 0;
  const templateDepth: number[] = []; // brace depth at which each open template resumes
  let braces = 0;
  const skipString = (quote: string) => {
    out += quote;
    i++;
    while (i < text.length && text[i] !== quote) {
      if (quote === "`" && text[i] === "$" && text[i + 1] === "{") {
        templateDepth.push(braces);
        braces++;
        out += "${";
        i += 2;
        return;
      }
      if (text[i] === "\\") i++;
      out += text[i] === "\n" ? "\n" : " ";
      i++;
    }
    out += quote;
    i++;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else if (c === '"' || c === "'" || c === "`") {
      skipString(c);
    } else if (c === "{") {
      braces++;
      out += c;
      i++;
    } else if (c === "}") {
      braces--;
      out += c;
      i++;
      if (templateDepth.length > 0 && templateDepth[templateDepth.length - 1] === braces) {
        templateDepth.pop();
        i--; // resume the template: skipString starts at its (pretend) opening quote
        skipString("`");
        out = out.slice(0, -2) + "}`";
      }
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const IMPORT = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** The module specifiers a file imports (static, re-exports, dynamic). */
function specifiers(text: string): string[] {
  return [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);
}

const files = sourceFiles(SRC).map((path) => {
  const text = readFileSync(path, "utf8");
  return { path, rel: relative(SRC, path), text, code: codeOnly(text) };
});

/** `from -> to` for every import of one src file by another. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const to = specifiers(f.text)
      .filter((s) => s.startsWith("."))
      .map((s) => relative(SRC, resolve(dirname(f.path), s)))
      .filter((r) => !r.startsWith(".."));
    graph.set(f.rel, [...new Set(to)]);
  }
  return graph;
}

function layerOf(rel: string): number {
  const top = rel.split("/")[0]!;
  const i = LAYERS.findIndex((names) => names.includes(top));
  if (i < 0) throw new Error(`src/${rel}: not in any layer of test/unit/layers.test.ts (add it to LAYERS)`);
  return i;
}

/** Upward arrows: an import into a higher layer. */
function upwardArrows(graph: Map<string, string[]>): string[] {
  const up: string[] = [];
  for (const [from, tos] of graph) for (const to of tos) if (layerOf(to) > layerOf(from)) up.push(`${from} -> ${to}`);
  return up.sort();
}

/** One cycle per strongly connected component of more than one file (Tarjan), as a path. */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      const self = (graph.get(v) ?? []).includes(v);
      if (scc.length > 1 || self) found.push(cyclePath(graph, new Set(scc), v));
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** A path from `start` back to itself inside one component, for the error message. */
function cyclePath(graph: Map<string, string[]>, scc: Set<string>, start: string): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!scc.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = prev.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

describe("layers (ARCHITECTURE.md)", () => {
  test("runtime names only in src/runtime, src/sys, src/main.ts and src/worker-lib", () => {
    const found: string[] = [];
    for (const f of files) {
      if (RUNTIME_ALLOWED.some((p) => f.rel === p || f.rel.startsWith(p))) continue;
      f.code.split("\n").forEach((line, n) => {
        if (/(?<![\w.$])(?:Bun|Deno)\s*\./.test(line)) found.push(`src/${f.rel}:${n + 1}: ${line.trim()}`);
      });
      for (const s of specifiers(f.text)) if (/^(?:bun|npm):/.test(s)) found.push(`src/${f.rel}: imports "${s}"`);
    }
    assert.deepEqual(found, []);
  });

  test("no process.env or process.cwd in src/master (Runtime.env and Runtime.cwd carry them)", () => {
    const found = files
      .filter((f) => f.rel.startsWith("master/"))
      .flatMap((f) => f.code.split("\n").flatMap((line, n) => (/\bprocess\s*\.\s*(?:env|cwd)\b/.test(line) ? [`src/${f.rel}:${n + 1}: ${line.trim()}`] : [])));
    assert.deepEqual(found, []);
  });

  test("no process and no node:fs in src/master but in its OS port (src/master/os.ts)", () => {
    const found = files
      .filter((f) => f.rel.startsWith("master/") && f.rel !== OS_PORT)
      .flatMap((f) => [
        ...specifiers(f.text).filter((s) => /^(?:node:)?(?:fs|process)(?:\/|$)/.test(s)).map((s) => `src/${f.rel}: imports "${s}"`),
        ...f.code.split("\n").flatMap((line, n) => (/(?<![\w.$])process\b/.test(line) ? [`src/${f.rel}:${n + 1}: ${line.trim()}`] : [])),
      ]);
    assert.deepEqual(found, []);
  });

  test("no import cycle among the files of src/", () => {
    assert.deepEqual(cycles(importGraph()).map((c) => c.join(" -> ")), []);
  });

  test("no import from a lower layer to a higher one", () => {
    assert.deepEqual(upwardArrows(importGraph()), [], "imports into a higher layer (ARCHITECTURE.md)");
  });

  test("the checks themselves see what they look for", () => {
    assert.ok(codeOnly('const a = "Bun.x"; // Deno.y\nBun.z`${Deno.w}Bun.v`').includes("Bun.z"));
    assert.ok(!codeOnly('const a = "Bun.x"; // Deno.y').includes("Bun.x"));
    assert.ok(!codeOnly('const a = "Bun.x"; // Deno.y').includes("Deno.y"));
    assert.ok(codeOnly("`${Deno.w}Bun.v`").includes("Deno.w"));
    assert.ok(!codeOnly("`${Deno.w}Bun.v`").includes("Bun.v"));
    assert.deepEqual(specifiers('import { a } from "./a.ts";\nimport type { B } from "../b.ts";\nconst c = await import("./c.ts");\nexport { d } from "./d.ts";'), ["./a.ts", "../b.ts", "./c.ts", "./d.ts"]);
    const graph = new Map([["a.ts", ["b.ts"]], ["b.ts", ["c.ts"]], ["c.ts", ["a.ts"]]]);
    assert.deepEqual(cycles(graph), [["a.ts", "b.ts", "c.ts", "a.ts"]]);
    assert.deepEqual(upwardArrows(new Map([["sys/x.ts", ["master/y.ts"]]])), ["sys/x.ts -> master/y.ts"]);
    assert.ok(/(?<![\w.$])process\b/.test(codeOnly("const a = process.arch;")));
    assert.ok(!/(?<![\w.$])process\b/.test(codeOnly('const a = "process"; x.process; // process')));
  });
});
