export type * from "./types.ts";
export { formatDuration, MAX_DURATION_MS, parseDuration } from "./duration.ts";
export { parseSignal, signalName } from "./signals.ts";
export {
  formatIPv6, masterCliBind, parseIPv4, parseIPv6, parseListenUrl, parseMasterCliAddress, type ParsedAddress,
} from "./address.ts";
export {
  addressesClash, buildListener, buildMasterCli, DEFAULT_BACKLOG, DEFAULT_CLI_MODE, type ListenOption,
  parseListenOption, parseMasterCliOption,
} from "./sockets.ts";
export { DEFAULT_GLOBAL } from "./global.ts";
export { type IdDatabase, idsFromText, systemIds, type UserEntry } from "./ids.ts";
export { keyPathText, type KeyPath, type LineFinder, overrideName } from "./problems.ts";
export { validateConfig, type ValidateContext } from "./schema.ts";
export { type ConfigFormat, lineFinder, locateKey } from "./locate.ts";
export { loadConfig, type LoadOptions, parseText } from "./load.ts";
export { formatProblem, formatProblems, formatValue } from "./errors.ts";
export { suggest } from "./suggest.ts";
export type { Parsed } from "./values.ts";
