/**
 * Listener and master-CLI socket entries, built from a table of fields. The same builders
 * serve the file's `[[listen]]` / `[[master-cli]]` tables and the `-l` / `-S` options, so
 * both spellings accept exactly the same values.
 */

import { masterCliBind, parseListenUrl, parseMasterCliAddress, type ParsedAddress } from "./address.ts";
import type { IdDatabase } from "./ids.ts";
import { suggest } from "./suggest.ts";
import type { ListenAddress, ListenerConfig, MasterCliConfig } from "./types.ts";
import { CLI_LEVELS, ok, parseChoice, parseGroupId, parseInteger, parseMode, parseName, parseUserId, type Parsed } from "./values.ts";

/** Reports a problem with one field of the entry being built. */
export type FieldReporter = (field: string, problem: string, ...got: [] | [unknown]) => void;

/** REFERENCE §3's default, nginx's and Redis's too; the kernel caps it at net.core.somaxconn. */
export const DEFAULT_BACKLOG = 511;
export const DEFAULT_CLI_MODE = 0o600;

export const LISTEN_KEYS = ["name", "bind", "backlog", "mode", "uid", "gid", "share"] as const;
/** REFERENCE §3: inherited descriptors (the default) or workers binding with SO_REUSEPORT */
export const LISTEN_SHARES = ["inherit", "reuseport"] as const;
export const MASTER_CLI_KEYS = ["bind", "mode", "uid", "gid", "level"] as const;

/** `[[listen]]` number `position` (0-based); the default name counts from 1, like humans. */
export function buildListener(
  fields: Record<string, unknown>, position: number, baseDir: string, ids: IdDatabase, report: FieldReporter,
): ListenerConfig | undefined {
  const name = fields.name === undefined ? ok(`listen${position + 1}`) : parseName(fields.name);
  if (!name.ok) report("name", name.error, fields.name);
  const parsed = bindField(fields.bind, report, "tcp://0.0.0.0:8080", (text) => parseListenUrl(text, baseDir));
  let backlog = DEFAULT_BACKLOG;
  if (fields.backlog !== undefined) {
    const value = parseInteger(fields.backlog, 1, 65535);
    if (value.ok) backlog = value.value;
    else report("backlog", value.error, fields.backlog);
  }
  const owner = ownership(fields, parsed?.address, ids, report);
  let reuseport = false;
  if (fields.share !== undefined) {
    const share = parseChoice(fields.share, LISTEN_SHARES);
    if (!share.ok) report("share", share.error, fields.share);
    else if (share.value === "reuseport" && parsed?.address.kind === "unix") report("share", "\"reuseport\" applies only to tcp listeners", fields.share);
    else reuseport = share.value === "reuseport";
  }
  // Kept despite a bad backlog or owner (already reported) so that names and addresses
  // are still compared with the other listeners.
  if (!name.ok || !parsed) return undefined;
  return { name: name.value, bind: parsed.bind, address: parsed.address, backlog, ...owner, ...(reuseport ? { share: "reuseport" as const } : {}) };
}

/** One master-CLI listener (the file's `[[master-cli]]` or a `-S` option). */
export function buildMasterCli(
  fields: Record<string, unknown>, baseDir: string, ids: IdDatabase, report: FieldReporter,
): MasterCliConfig | undefined {
  const parsed = bindField(fields.bind, report, "/run/app/master.sock", (text) => parseMasterCliAddress(text, baseDir));
  const level = fields.level === undefined ? ok("admin" as const) : parseChoice(fields.level, CLI_LEVELS);
  if (!level.ok) report("level", level.error, fields.level);
  const owner = ownership(fields, parsed?.address, ids, report);
  if (!parsed) return undefined;
  const bind = masterCliBind(parsed.address);
  return { bind, address: parsed.address, mode: DEFAULT_CLI_MODE, ...owner, level: level.ok ? level.value : "admin" };
}

function bindField(
  value: unknown, report: FieldReporter, example: string, parse: (text: string) => ParsedAddress | string,
): ParsedAddress | undefined {
  if (value === undefined) {
    report("bind", `required (e.g. "${example}")`);
    return undefined;
  }
  if (typeof value !== "string") {
    report("bind", "must be a string", value);
    return undefined;
  }
  const parsed = parse(value);
  if (typeof parsed === "string") {
    report("bind", parsed, value);
    return undefined;
  }
  return parsed;
}

/** mode/uid/gid, which only a unix socket has; invalid ones are reported and left out. */
function ownership(
  fields: Record<string, unknown>, address: ListenAddress | undefined, ids: IdDatabase, report: FieldReporter,
): { mode?: number; uid?: number; gid?: number } {
  const owner: { mode?: number; uid?: number; gid?: number } = {};
  const parsers: Record<"mode" | "uid" | "gid", (value: unknown) => Parsed<number>> = {
    mode: parseMode,
    uid: (value) => mapParsed(parseUserId(value, ids), (user) => user.uid),
    gid: (value) => mapParsed(parseGroupId(value, ids), (group) => group.gid),
  };
  for (const field of ["mode", "uid", "gid"] as const) {
    if (fields[field] === undefined) continue;
    const parsed = parsers[field](fields[field]);
    if (!parsed.ok) report(field, parsed.error, fields[field]);
    else if (address?.kind === "tcp") report(field, "applies only to unix sockets", fields[field]);
    else owner[field] = parsed.value;
  }
  return owner;
}

function mapParsed<T, U>(parsed: Parsed<T>, map: (value: T) => U): Parsed<U> {
  return parsed.ok ? ok(map(parsed.value)) : parsed;
}

/** A parsed `-l [NAME=]URL`; without a name the listener is named by its position later. */
export interface ListenOption extends ParsedAddress {
  name?: string;
}

/** `-l [NAME=]URL`. A '=' counts as the name separator only before any ':' or '/'. */
export function parseListenOption(text: string, baseDir: string): Parsed<ListenOption> {
  const [, givenName, url = text] = /^([^=:/]*)=(.*)$/s.exec(text.trim()) ?? [];
  let name: string | undefined;
  if (givenName !== undefined) {
    const checked = parseName(givenName);
    if (!checked.ok) return { ok: false, error: `name: ${checked.error}` };
    name = checked.value;
  }
  const parsed = parseListenUrl(url, baseDir);
  if (typeof parsed === "string") return { ok: false, error: parsed };
  return ok(name === undefined ? parsed : { ...parsed, name });
}

/** Option keys of `-S ADDR[,KEY,VALUE]...`; `user`/`group` are HAProxy's spellings. */
const CLI_OPTION_KEYS: Readonly<Record<string, string>> = {
  mode: "mode", uid: "uid", gid: "gid", level: "level", user: "uid", group: "gid",
};

/** `-S ADDR[,KEY,VALUE]...`: every problem in the string, as `field: problem` texts. */
export function parseMasterCliOption(
  text: string, baseDir: string, ids: IdDatabase,
): { ok: true; value: MasterCliConfig } | { ok: false; errors: string[] } {
  const [bind, ...options] = text.split(",");
  const fields: Record<string, unknown> = { bind };
  const errors: string[] = [];
  for (let i = 0; i < options.length; i += 2) {
    const key = (options[i] ?? "").trim();
    const value = options[i + 1];
    const field = CLI_OPTION_KEYS[key];
    if (field === undefined) {
      const close = suggest(key, Object.keys(CLI_OPTION_KEYS));
      errors.push(`unknown key '${key}'${close ? ` (did you mean '${close}'?)` : " (use mode, uid, gid or level)"}`);
    } else if (value === undefined) {
      errors.push(`${key}: missing value (write ${key},VALUE)`);
    } else {
      fields[field] = value.trim();
    }
  }
  const entry = buildMasterCli(fields, baseDir, ids, (field, problem, ...got) => {
    const shown = got.length > 0 && field !== "bind" ? ` '${String(got[0])}'` : "";
    errors.push(field === "bind" ? problem : `${field}${shown}: ${problem}`);
  });
  return entry && errors.length === 0 ? { ok: true, value: entry } : { ok: false, errors };
}

/**
 * Whether two addresses cannot both be bound: the same address, or a wildcard and an
 * address of the same family on the same port (Linux refuses the second bind even with
 * SO_REUSEADDR once the first listens). Port 0 picks a fresh port each time, so never clashes.
 */
export function addressesClash(a: ListenAddress, b: ListenAddress): boolean {
  if (a.kind === "unix" && b.kind === "unix") return a.path === b.path;
  if (a.kind !== "tcp" || b.kind !== "tcp") return false;
  if (a.port !== b.port || a.port === 0 || a.family !== b.family) return false;
  const wildcard = a.family === 4 ? "0.0.0.0" : "::";
  return a.host === b.host || a.host === wildcard || b.host === wildcard;
}
