/**
 * `[metrics]`: the address of the Prometheus endpoint. TCP only (Prometheus scrapes
 * HTTP over TCP); the address may not be one a listener or master-CLI socket claims.
 */
import { masterCliBind, tcpAddress } from "./address.ts";
import type { Draft } from "./draft.ts";
import { keyPathText } from "./problems.ts";
import { addressesClash } from "./sockets.ts";
import type { MetricsConfig } from "./types.ts";

export const METRICS_KEYS = ["bind"] as const;

const EXAMPLE = `"127.0.0.1:9101"`;

/** `bind = "HOST:PORT"` (or `tcp://HOST:PORT`); problems are reported under `metrics.bind`. */
export function buildMetrics(fields: Record<string, unknown>, report: (problem: string, ...got: [] | [unknown]) => void): MetricsConfig | undefined {
  const value = fields.bind;
  if (value === undefined) {
    report(`required (e.g. ${EXAMPLE})`);
    return undefined;
  }
  if (typeof value !== "string") {
    report(`must be a string (e.g. ${EXAMPLE})`, value);
    return undefined;
  }
  const text = value.trim().replace(/^tcp:\/\//i, "");
  if (text.startsWith("/") || /^unix:/i.test(text)) {
    report(`must be a TCP address HOST:PORT (e.g. ${EXAMPLE}), not a unix socket`, value);
    return undefined;
  }
  const parsed = tcpAddress(text);
  if (typeof parsed === "string") {
    report(`${parsed} (e.g. ${EXAMPLE})`, value);
    return undefined;
  }
  return { bind: masterCliBind(parsed.address), address: parsed.address };
}

/** A listener or master-CLI socket on the same address would make one of the binds fail. */
export function metricsClash(metrics: MetricsConfig, draft: Draft): string | undefined {
  const other = [...draft.listen, ...draft.masterCli].find((entry) => addressesClash(entry.value.address, metrics.address));
  if (!other) return undefined;
  const where = "path" in other ? keyPathText(other.path) : `'${other.text}'`;
  return `address overlaps ${other.value.bind} (${where})`;
}
