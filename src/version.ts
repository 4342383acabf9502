/**
 * steward's version: stamped into a build by scripts/build.mjs (STEWARD_BUILD_VERSION,
 * default package.json's); from source, package.json's.
 */
import pkg from "../package.json" with { type: "json" };

declare const __STEWARD_VERSION__: string | undefined;

export const VERSION: string = typeof __STEWARD_VERSION__ === "string" ? __STEWARD_VERSION__ : pkg.version;
