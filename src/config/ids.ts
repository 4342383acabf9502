/**
 * User and group names → numeric ids, read from /etc/passwd and /etc/group. Only the files
 * are consulted (no NSS, LDAP or systemd-userdb): the master runs as a static binary with
 * no libc name service, and containers keep their users in these files.
 */

import { readFileSync } from "node:fs";

export interface UserEntry {
  uid: number;
  /** primary group */
  gid: number;
}

export interface IdDatabase {
  user(name: string): UserEntry | undefined;
  group(name: string): number | undefined;
}

/** Reads the files on first use and keeps them for this database's lifetime (one load). */
export function systemIds(passwdPath = "/etc/passwd", groupPath = "/etc/group"): IdDatabase {
  let parsed: IdDatabase | undefined;
  const load = (): IdDatabase => (parsed ??= idsFromText(readOrEmpty(passwdPath), readOrEmpty(groupPath)));
  return { user: (name) => load().user(name), group: (name) => load().group(name) };
}

/** An id database from the text of passwd(5) and group(5) files. */
export function idsFromText(passwd: string, group: string): IdDatabase {
  const users = new Map<string, UserEntry>();
  for (const [name = "", , uidText, gidText] of records(passwd)) {
    const uid = Number(uidText);
    const gid = Number(gidText);
    if (gidText !== undefined && isId(uid) && isId(gid) && !users.has(name)) users.set(name, { uid, gid });
  }
  const groups = new Map<string, number>();
  for (const [name = "", , gidText] of records(group)) {
    const gid = Number(gidText);
    if (gidText !== undefined && isId(gid) && !groups.has(name)) groups.set(name, gid);
  }
  return { user: (name) => users.get(name), group: (name) => groups.get(name) };
}

function records(text: string): string[][] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => line.split(":"));
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    // A missing file means no names resolve; numeric ids still work, and the problem
    // "unknown user" names the file the user should look at.
    return "";
  }
}

/** uid_t/gid_t are 32-bit and (uid_t)-1 means "unchanged" to chown, so it is not an id. */
export const MAX_ID = 4_294_967_294;

function isId(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= MAX_ID;
}
