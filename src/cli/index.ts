export { runCli } from "./dispatch.ts";
export type { CliDeps, MasterCliClient, MasterCliRequest, ReloadRequest, UpgradeRequest } from "./deps.ts";
export { normalizeArgv, type NormalizedArgv, SHORT_FLAGS, SUBCOMMANDS, type Subcommand } from "./normalize.ts";
export { envVariableOf, parseBoolean, readEnvLogLevel, readEnvOptions } from "./env.ts";
export { USAGE_EXIT_CODE, UsageError } from "./_usage.ts";
export { VALID_MESSAGE } from "./run.ts";
