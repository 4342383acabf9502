/**
 * steward's version: stamped into a build by scripts/build.mjs (STEWARD_BUILD_VERSION,
 * default package.json's); from source, package.json's. A compiled build also carries the
 * release target it was built for (scripts/targets.mjs) and when; from source both are null.
 */
import pkg from "../package.json" with { type: "json" };

declare const __STEWARD_VERSION__: string | undefined;
declare const __STEWARD_TARGET__: string | undefined;
declare const __STEWARD_BUILD_TIME__: string | undefined;

export const VERSION: string = typeof __STEWARD_VERSION__ === "string" ? __STEWARD_VERSION__ : pkg.version;

/** e.g. `linux-x64-musl`; null when running from source */
export const BUILD_TARGET: string | null = typeof __STEWARD_TARGET__ === "string" ? __STEWARD_TARGET__ : null;

/** ISO 8601, UTC; null when running from source */
export const BUILD_TIME: string | null = typeof __STEWARD_BUILD_TIME__ === "string" ? __STEWARD_BUILD_TIME__ : null;
