/**
 * A release manifest (`npm run release` writes dist/release/manifest.json, REFERENCE §5.5) and
 * the choice of the artefact that runs on a host. Pure: the host is described by data
 * (upgrade/host.ts reads it from /proc), so the choice can be tested for every machine.
 *
 * An artefact fits a host when its architecture and libc are the host's and the host's CPU
 * has every flag the artefact's runtime needs (`cpuFlags`, as /proc/cpuinfo names them: Bun's
 * x64 runtime dies with SIGILL without `avx2`). Of those that fit, the one that needs the
 * most flags is the one built for the newest CPU, so the fastest that still runs.
 */

export interface Artefact {
  /** file name, relative to the manifest's URL */
  file: string;
  /** e.g. `linux-x64-baseline` */
  target: string;
  /** as Node names it: `x64`, `arm64` */
  arch: string;
  libc: "glibc" | "musl";
  /** the CPU baseline, for people: `x86-64-v3`, `x86-64-v2`, `armv8-a` */
  cpu: string;
  /** the /proc/cpuinfo flags the artefact needs */
  cpuFlags: string[];
  size: number;
  /** 64 hexadecimal digits, lower case */
  sha256: string;
}

export interface Manifest {
  version: string;
  artefacts: Artefact[];
}

export interface Host {
  arch: string;
  libc: "glibc" | "musl";
  /** the CPU's flags (x86 `flags`, arm `Features` in /proc/cpuinfo) */
  cpuFlags: ReadonlySet<string>;
}

export class ManifestError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** @throws ManifestError naming the first field that is missing or malformed */
export function parseManifest(value: unknown): Manifest {
  if (!isObject(value)) throw new ManifestError("not a JSON object");
  if (typeof value.version !== "string" || value.version === "") throw new ManifestError("'version' must be a non-empty string");
  if (!Array.isArray(value.artefacts) || value.artefacts.length === 0) throw new ManifestError("'artefacts' must be a non-empty array");
  const artefacts = value.artefacts.map((a, i) => parseArtefact(a, `artefacts[${i}]`));
  return { version: value.version, artefacts };
}

function parseArtefact(a: unknown, where: string): Artefact {
  if (!isObject(a)) throw new ManifestError(`'${where}' must be an object`);
  const text = (key: string): string => {
    const v = a[key];
    if (typeof v !== "string" || v === "") throw new ManifestError(`'${where}.${key}' must be a non-empty string`);
    return v;
  };
  const file = text("file");
  // The file is resolved against the manifest's URL: a bare name keeps it beside the manifest.
  if (file.includes("/") || file === "." || file === "..") throw new ManifestError(`'${where}.file' must be a bare file name (got '${file}')`);
  const libc = text("libc");
  if (libc !== "glibc" && libc !== "musl") throw new ManifestError(`'${where}.libc' must be 'glibc' or 'musl' (got '${libc}')`);
  const sha256 = text("sha256");
  if (!/^[0-9a-f]{64}$/i.test(sha256)) throw new ManifestError(`'${where}.sha256' must be 64 hexadecimal digits (got '${sha256}')`);
  const flags = a.cpuFlags;
  if (!Array.isArray(flags) || !flags.every((f) => typeof f === "string")) throw new ManifestError(`'${where}.cpuFlags' must be an array of strings`);
  const size = a.size;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size <= 0) throw new ManifestError(`'${where}.size' must be a positive integer`);
  return { file, target: text("target"), arch: text("arch"), libc, cpu: text("cpu"), cpuFlags: flags, size, sha256: sha256.toLowerCase() };
}

/** `x64, glibc, avx2`: what decided the choice, for messages */
export function describeHost(host: Host, manifest: Manifest): string {
  const asked = [...new Set(manifest.artefacts.flatMap((a) => a.cpuFlags))].sort();
  const flags = asked.map((f) => (host.cpuFlags.has(f) ? f : `no ${f}`));
  return [host.arch, host.libc, ...flags].join(", ");
}

/** @throws ManifestError when no artefact fits, listing what the manifest offers */
export function pickArtefact(manifest: Manifest, host: Host): Artefact {
  const fits = manifest.artefacts.filter(
    (a) => a.arch === host.arch && a.libc === host.libc && a.cpuFlags.every((f) => host.cpuFlags.has(f)),
  );
  const best = fits.reduce<Artefact | undefined>((b, a) => (b === undefined || a.cpuFlags.length > b.cpuFlags.length ? a : b), undefined);
  if (best !== undefined) return best;
  const offered = manifest.artefacts.map((a) => `${a.target} (${[a.arch, a.libc, ...a.cpuFlags].join(", ")})`).join("; ");
  throw new ManifestError(`no artefact fits this host (${describeHost(host, manifest)}); it has ${offered}`);
}
