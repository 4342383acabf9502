/**
 * A JSON walker that records the line of every key and array element, and the line of the
 * first syntax error. JSON.parse cannot do either portably: its error messages differ per
 * engine (V8 gives a position, JavaScriptCore gives none), and it keeps no positions.
 */

import { MAX_DEPTH } from "./limits.ts";
import { type KeyPath, keyPathText } from "./problems.ts";

export interface JsonScan {
  /** key path text (`listen[0].bind`) → 1-based line where that key or element starts */
  lines: Map<string, number>;
  error?: { line: number; message: string };
}

class JsonSyntaxError extends Error {
  constructor(message: string, readonly line: number) {
    super(message);
  }
}

export function scanJson(text: string): JsonScan {
  const walker = new Walker(text);
  try {
    walker.document();
    return { lines: walker.lines };
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    return { lines: walker.lines, error: { line: error.line, message: error.message } };
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class Walker {
  readonly lines = new Map<string, number>();
  private pos = 0;
  private line = 1;

  constructor(private readonly text: string) {}

  document(): void {
    this.space();
    if (this.pos >= this.text.length) this.fail("empty file (expected a JSON object)");
    this.value([]);
    this.space();
    if (this.pos < this.text.length) this.fail(`unexpected ${this.shown()} after the end of the document`);
  }

  private fail(message: string): never {
    throw new JsonSyntaxError(message, this.line);
  }

  private shown(): string {
    const char = this.text[this.pos];
    return char === undefined ? "end of file" : `'${char}'`;
  }

  private space(): void {
    while (this.pos < this.text.length) {
      const char = this.text[this.pos];
      if (char === "\n") this.line++;
      else if (char !== " " && char !== "\t" && char !== "\r") return;
      this.pos++;
    }
  }

  private value(path: KeyPath): void {
    const char = this.text[this.pos] ?? "";
    // Each level copies its path: without a limit, deep nesting costs quadratic time and memory.
    if ((char === "{" || char === "[") && path.length >= MAX_DEPTH) this.fail(`nested more than ${MAX_DEPTH} levels deep`);
    if (char === "{") return this.object(path);
    if (char === "[") return this.array(path);
    if (char === '"') return void this.string();
    if (char === "-" || (char >= "0" && char <= "9")) return this.number();
    for (const word of ["true", "false", "null"]) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return;
      }
    }
    this.fail(`unexpected ${this.shown()}`);
  }

  private object(path: KeyPath): void {
    this.pos++;
    this.space();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return;
    }
    // JSON.parse keeps the last of duplicate keys silently; TOML and YAML parsers refuse
    // them, so JSON does too rather than ignore half of what the user wrote.
    const seen = new Set<string>();
    for (;;) {
      this.space();
      if (this.text[this.pos] !== '"') {
        this.fail(this.text[this.pos] === "}" ? "trailing comma before '}'" : `expected a "key" but found ${this.shown()}`);
      }
      const line = this.line;
      const key = this.string();
      if (seen.has(key)) this.fail(`duplicate key "${key}"`);
      seen.add(key);
      this.lines.set(keyPathText([...path, key]), line);
      this.space();
      if (this.text[this.pos] !== ":") this.fail(`expected ':' after "${key}" but found ${this.shown()}`);
      this.pos++;
      this.space();
      this.value([...path, key]);
      this.space();
      if (this.text[this.pos] === "}") break;
      if (this.text[this.pos] !== ",") this.fail(`expected ',' or '}' but found ${this.shown()}`);
      this.pos++;
    }
    this.pos++;
  }

  private array(path: KeyPath): void {
    this.pos++;
    this.space();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return;
    }
    for (let index = 0; ; index++) {
      this.space();
      if (this.text[this.pos] === "]") this.fail("trailing comma before ']'");
      this.lines.set(keyPathText([...path, index]), this.line);
      this.value([...path, index]);
      this.space();
      if (this.text[this.pos] === "]") break;
      if (this.text[this.pos] !== ",") this.fail(`expected ',' or ']' but found ${this.shown()}`);
      this.pos++;
    }
    this.pos++;
  }

  /** Returns the decoded text; only the key's text matters, so escapes are decoded by JSON.parse. */
  private string(): string {
    const start = this.pos++;
    for (;;) {
      const char = this.text[this.pos];
      if (char === undefined || char === "\n") this.fail("unterminated string");
      if (char === '"') break;
      if (char < " ") this.fail("control character in a string (escape it)");
      if (char === "\\") {
        const escape = this.text[this.pos + 1];
        if (escape === "u" && /^[0-9A-Fa-f]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) this.pos += 4;
        else if (escape === undefined || !'"\\/bfnrt'.includes(escape)) this.fail("invalid escape in a string");
        this.pos++;
      }
      this.pos++;
    }
    this.pos++;
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }

  private number(): void {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match || match[0] === "-") this.fail("invalid number");
    this.pos += match[0].length;
  }
}
