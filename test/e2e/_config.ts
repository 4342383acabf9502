/** Configuration text for tests: a tiny TOML writer for flat values. */

type TomlValue = string | number | boolean | string[] | Record<string, string>;
export interface TomlConfig {
  global?: Record<string, TomlValue>;
  listen?: Array<Record<string, TomlValue>>;
  worker?: Record<string, TomlValue>;
}

function tomlValue(value: TomlValue): string {
  if (Array.isArray(value)) return `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
  if (typeof value === "object") {
    return `{ ${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)} = ${JSON.stringify(v)}`).join(", ")} }`;
  }
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

function tomlTable(header: string, table: Record<string, TomlValue>): string {
  return `${header}\n${Object.entries(table).map(([k, v]) => `${k} = ${tomlValue(v)}`).join("\n")}\n`;
}

/** A TOML configuration from plain values: `toml({ global: { workers: 2 }, listen: [...], worker: {...} })`. */
export function toml(config: TomlConfig): string {
  const parts: string[] = [];
  if (config.global) parts.push(tomlTable("[global]", config.global));
  for (const listen of config.listen ?? []) parts.push(tomlTable("[[listen]]", listen));
  if (config.worker) parts.push(tomlTable("[worker]", config.worker));
  return parts.join("\n");
}

/** The usual one-listener configuration with `command`, plus `global` keys. */
export function serving(command: string[], global: Record<string, TomlValue> = {}, env?: Record<string, string>): string {
  return toml({
    global: { "ready-timeout": "10s", ...global },
    listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }],
    worker: env ? { command, env } : { command },
  });
}
