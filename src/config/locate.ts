/**
 * Best-effort line numbers for key paths. The parsers (through confbox) return plain
 * values without positions, so the text is scanned again: TOML and YAML by lines (headers,
 * `key =` / `key:` lines, list items), JSON exactly. A path that is not written literally
 * (an element of an inline array, a key that is missing) gets the line of its nearest
 * written ancestor, or no line at all.
 */

import { scanJson } from "./jsonscan.ts";
import { type KeyPath, keyPathText, type LineFinder } from "./problems.ts";

export type ConfigFormat = "toml" | "yaml" | "json";

/** Indexes the text once; the finder then answers each path from the index. */
export function lineFinder(text: string, format: ConfigFormat): LineFinder {
  const lines = format === "toml" ? tomlLines(text) : format === "yaml" ? yamlLines(text) : scanJson(text).lines;
  return (path) => {
    for (let length = path.length; length > 0; length--) {
      const line = lines.get(keyPathText(path.slice(0, length)));
      if (line !== undefined) return line;
    }
    return undefined;
  };
}

/** The line of `path` (or of its nearest written ancestor) in a config text. */
export function locateKey(text: string, format: ConfigFormat, path: KeyPath): number | undefined {
  return lineFinder(text, format)(path);
}

/** Records only the first place a path appears: where a section starts, not where it is extended. */
function record(lines: Map<string, number>, path: KeyPath, line: number): void {
  for (let length = 1; length <= path.length; length++) {
    const key = keyPathText(path.slice(0, length));
    if (!lines.has(key)) lines.set(key, line);
  }
}

const TOML_KEY_PART = String.raw`(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')`;
const TOML_KEY = new RegExp(String.raw`^(${TOML_KEY_PART}(?:\s*\.\s*${TOML_KEY_PART})*)\s*=\s*(.*)$`);
const TOML_PART = new RegExp(TOML_KEY_PART, "g");

function tomlKeyParts(dotted: string): string[] {
  return [...dotted.matchAll(TOML_PART)].map(([part]) =>
    part.startsWith('"') ? (JSON.parse(part) as string) : part.startsWith("'") ? part.slice(1, -1) : part);
}

function tomlLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  /** key text of each array of tables → index of its latest `[[...]]` */
  const arrays = new Map<string, number>();
  let table: KeyPath = [];
  let openString: string | undefined;
  /** unclosed brackets of a value spread over several lines: its lines are not keys or headers */
  let openBrackets = 0;
  /** `[listen.x]` after `[[listen]]` extends the latest listen element: insert its index. */
  const expand = (parts: string[]): (string | number)[] => {
    const path: (string | number)[] = [];
    for (const part of parts) {
      path.push(part);
      const index = arrays.get(keyPathText(path));
      if (index !== undefined) path.push(index);
    }
    return path;
  };
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const content = raw.trim();
    if (openString !== undefined) {
      if (content.split(openString).length % 2 === 0) openString = undefined;
      return;
    }
    if (openBrackets > 0) {
      openBrackets += bracketBalance(content);
      return;
    }
    // No lazy group beside `\s*` in these patterns: on a long line of spaces that costs quadratic time.
    const [, arrayKey] = /^\[\[([^\]]+)\]\]/.exec(content) ?? [];
    const [, tableKey] = arrayKey === undefined ? (/^\[([^\]]+)\]/.exec(content) ?? []) : [];
    if (arrayKey !== undefined) {
      const parts = tomlKeyParts(arrayKey);
      const last = parts.pop() ?? "";
      const parent = expand(parts);
      const key = keyPathText([...parent, last]);
      const position = (arrays.get(key) ?? -1) + 1;
      arrays.set(key, position);
      table = [...parent, last, position];
      record(lines, table, line);
    } else if (tableKey !== undefined) {
      table = expand(tomlKeyParts(tableKey));
      record(lines, table, line);
    } else {
      const [, dotted, value = ""] = TOML_KEY.exec(content) ?? [];
      if (dotted === undefined) return;
      record(lines, [...table, ...tomlKeyParts(dotted)], line);
      const [, opener] = /^("""|''')/.exec(value) ?? [];
      if (opener !== undefined && value.split(opener).length % 2 === 0) openString = opener;
      else openBrackets = Math.max(0, bracketBalance(value));
    }
  });
  return lines;
}

/** Opened minus closed `[` and `{` outside strings and comments. */
function bracketBalance(text: string): number {
  let balance = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "#") break;
    if (char === '"' || char === "'") {
      for (i++; i < text.length && text[i] !== char; i++) if (char === '"' && text[i] === "\\") i++;
    } else if (char === "[" || char === "{") balance++;
    else if (char === "]" || char === "}") balance--;
  }
  return balance;
}

interface YamlFrame {
  indent: number;
  path: KeyPath;
  item: boolean;
  /** list items seen so far directly under this key */
  items: number;
}

/**
 * A plain key runs to the first `: ` (or `:` at the end); it takes its trailing spaces, which
 * yamlKey trims, because a lazy key followed by `\s*:` backtracks in quadratic time on a long
 * line of spaces.
 */
const YAML_KEY = /^("(?:[^"\\]|\\.)*"\s*|'(?:[^']|'')*'\s*|[^\s#"'{}[\],&*!|>%@`-][^#:]*(?::(?!\s|$)[^#:]*)*|-[^\s#][^#:]*(?::(?!\s|$)[^#:]*)*):(?:\s+(.*))?$/;

function yamlKey(key: string): string {
  const text = key.trim();
  if (text.startsWith('"')) return JSON.parse(text) as string;
  if (text.startsWith("'")) return text.slice(1, -1).replace(/''/g, "'");
  return text.trim();
}

function yamlLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  const root: YamlFrame = { indent: -1, path: [], item: false, items: 0 };
  const stack: YamlFrame[] = [root];
  const top = (): YamlFrame => stack[stack.length - 1] ?? root;
  /** the indentation of the key that opened a block scalar (`|`, `>`) still being read */
  let blockOwner: number | undefined;
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const content = raw.replace(/\r$/, "");
    const trimmed = content.trim();
    let column = content.length - content.trimStart().length;
    if (blockOwner !== undefined) {
      if (trimmed === "" || column > blockOwner) return;
      blockOwner = undefined;
    }
    if (trimmed === "" || trimmed.startsWith("#") || /^(---|\.\.\.)(\s|$)/.test(content)) return;
    let rest = trimmed;
    // Each leading "- " opens a list item; what follows it sits at a deeper column.
    while (rest === "-" || rest.startsWith("- ")) {
      while (stack.length > 1 && (top().indent > column || (top().indent === column && top().item))) stack.pop();
      const parent = top();
      const path = [...parent.path, parent.items++];
      record(lines, path, line);
      stack.push({ indent: column, path, item: true, items: 0 });
      const after = rest.slice(1);
      column += 1 + (after.length - after.trimStart().length);
      rest = after.trimStart();
    }
    const [, key, value = ""] = YAML_KEY.exec(rest) ?? [];
    if (key === undefined) return;
    while (stack.length > 1 && top().indent >= column) stack.pop();
    const path = [...top().path, yamlKey(key)];
    record(lines, path, line);
    stack.push({ indent: column, path, item: false, items: 0 });
    if (/^[|>][-+0-9]*\s*(#.*)?$/.test(value)) blockOwner = column;
  });
  return lines;
}
