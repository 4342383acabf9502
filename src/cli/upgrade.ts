/**
 * `steward upgrade --url URL --sha256 HEX [-S ADDR]` or `steward upgrade --manifest URL
 * [-S ADDR]`: the download, verification and install are injected; this only checks that
 * the request is well-formed.
 */

import { type ArgsDef, defineCommand } from "citty";
import { masterCliAddress, UnavailableError } from "./_client.ts";
import { UsageError } from "./_usage.ts";
import { UPGRADE_ARGS } from "./args.ts";
import type { CommandInput, UpgradeRequest } from "./deps.ts";

export const upgrade = defineCommand<ArgsDef>({
  meta: { name: "upgrade", description: "Download a new binary, verify it, install it over the running one and reload" },
  args: UPGRADE_ARGS,
  run: ({ args, data }) => {
    const input = data as CommandInput;
    const install = input.deps.upgrade;
    if (install === undefined) throw new UnavailableError("upgrade");
    return install(upgradeRequest(args, masterCliAddress(input)));
  },
});

/** @throws UsageError for a missing or malformed --url, --sha256 or --manifest */
export function upgradeRequest(args: Readonly<Record<string, unknown>>, address: string | undefined): UpgradeRequest {
  const url = typeof args.url === "string" ? args.url : undefined;
  const sha256 = typeof args.sha256 === "string" ? args.sha256.trim() : undefined;
  const manifest = typeof args.manifest === "string" ? args.manifest : undefined;
  if (manifest !== undefined) {
    if (url !== undefined || sha256 !== undefined) {
      throw new UsageError("option '--manifest' replaces '--url' and '--sha256': the manifest names the file and its checksum");
    }
    if (!URL.canParse(manifest)) throw new UsageError(`option '--manifest' must be an absolute URL (got '${manifest}')`);
    return { manifest, ...(address === undefined ? {} : { address }) };
  }
  if (url === undefined) throw new UsageError("option '--url' (or '--manifest') is required: where to download the new binary");
  if (sha256 === undefined) throw new UsageError("option '--sha256' is required: the expected SHA-256 of the download");
  if (!URL.canParse(url)) throw new UsageError(`option '--url' must be an absolute URL (got '${url}')`);
  if (!/^[0-9a-fA-F]{64}$/.test(sha256)) {
    throw new UsageError(`option '--sha256' must be 64 hexadecimal digits (got '${sha256}')`);
  }
  return { url, sha256: sha256.toLowerCase(), ...(address === undefined ? {} : { address }) };
}
