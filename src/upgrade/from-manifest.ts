/**
 * `steward upgrade --manifest URL`: reads a release manifest, picks the artefact for this
 * host and turns the request into the `--url --sha256` one, which install.ts carries out
 * (download, checksum, preflight, install, reload) exactly as when given by hand.
 */
import { ofetch } from "ofetch";
import { BUILD_TARGET } from "../version.ts";
import { readHost } from "./host.ts";
import { describeHost, type Host, ManifestError, type Manifest, parseManifest, pickArtefact } from "./manifest.ts";

export interface ArtefactRequest {
  url: string;
  sha256: string;
  address?: string;
}

async function fetchManifest(url: string): Promise<Manifest> {
  let text: string;
  try {
    text = await ofetch(url, { responseType: "text", retry: 1, timeout: 30_000 });
  } catch (e) {
    throw new ManifestError(`cannot download the manifest ${url}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(`the manifest ${url} is not JSON: ${(e as Error).message}`);
  }
  try {
    return parseManifest(value);
  } catch (e) {
    throw new ManifestError(`the manifest ${url} is not a steward release manifest: ${(e as Error).message}`);
  }
}

/**
 * Resolves to the artefact's URL and checksum, or to undefined after one line on `stderr`
 * saying why there is none (the manifest cannot be read, or nothing in it fits this host).
 */
export async function fromManifest(
  request: { manifest: string; address?: string },
  stderr: (line: string) => void,
  host: Host = readHost(BUILD_TARGET),
): Promise<ArtefactRequest | undefined> {
  try {
    const manifest = await fetchManifest(request.manifest);
    const artefact = pickArtefact(manifest, host);
    const url = new URL(artefact.file, request.manifest).href;
    stderr(`steward: ${artefact.file} (version ${manifest.version}, ${artefact.target}) fits this host (${describeHost(host, manifest)})`);
    return { url, sha256: artefact.sha256, ...(request.address === undefined ? {} : { address: request.address }) };
  } catch (e) {
    if (!(e instanceof ManifestError)) throw e;
    stderr(`steward: upgrade failed: ${e.message}`);
    return undefined;
  }
}
