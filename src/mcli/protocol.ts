/**
 * The master CLI's text protocol (REFERENCE §7.2), as pure functions: splitting input into
 * commands, and the fixed layouts replies use.
 */

/**
 * Splits one input line into commands and their words. Commands are separated by `;`,
 * words by spaces; `\` escapes `;`, space and `\` (HAProxy's rules).
 */
export function splitCommands(line: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = "";
  let inWord = false;
  const endWord = () => {
    if (inWord) words.push(word);
    word = "";
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "\\" && i + 1 < line.length && (line[i + 1] === ";" || line[i + 1] === " " || line[i + 1] === "\\")) {
      word += line[++i];
      inWord = true;
    } else if (c === ";") {
      endWord();
      if (words.length > 0) commands.push(words);
      words = [];
    } else if (c === " " || c === "\t" || c === "\r") {
      endWord();
    } else {
      word += c;
      inWord = true;
    }
  }
  endWord();
  if (words.length > 0) commands.push(words);
  return commands;
}

/** Re-joins words with the escapes `splitCommands` undoes (for forwarding a command). */
export function joinWords(words: string[]): string {
  return words.map((w) => w.replace(/[\\; ]/g, (c) => `\\${c}`)).join(" ");
}

/** `0d01h12m05s` */
export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d}d${pad(h)}h${pad(m)}m${pad(s % 60)}s`;
}

export interface ProcRow {
  pid: number;
  type: string;
  reloads: string;
  uptime: string;
  version: string;
}

/** HAProxy's `%-15s ` columns, so scripts written for HAProxy parse it. */
export function procLine(r: ProcRow): string {
  return `${[String(r.pid), r.type, r.reloads, r.uptime].map((f) => f.padEnd(15)).join(" ")} ${r.version}`;
}

export function procHeader(): string {
  return `${["#<PID>", "<type>", "<reloads>", "<uptime>"].map((f) => f.padEnd(15)).join(" ")} <version>`;
}

export type Level = "admin" | "operator" | "user";
const RANK: Record<Level, number> = { user: 0, operator: 1, admin: 2 };

export function levelAllows(session: Level, needed: Level): boolean {
  return RANK[session] >= RANK[needed];
}

/** Closest known words to an unknown one (for `Unknown command` hints). */
export function closeMatches(word: string, known: readonly string[], max = 3): string[] {
  const dist = (a: string, b: string): number => {
    const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      }
    }
    return dp[a.length]![b.length]!;
  };
  return known
    .map((k) => ({ k, d: Math.min(dist(word, k), k.startsWith(word) && word.length >= 2 ? 1 : 99) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(word.length / 3)))
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, max)
    .map((x) => x.k);
}
