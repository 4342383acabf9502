/** The master's state lives in src/state.ts, below the master CLI and the metrics that read it. */
export * from "../state.ts";
