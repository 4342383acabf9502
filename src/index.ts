export * from "./config/types.ts";
export { VERSION } from "./version.ts";
