/**
 * Reading steward's metrics as a scraper would: parse-prometheus-text-format (an
 * independent parser of the Prometheus text format, a dev dependency used by tests only),
 * plus the naming conventions the parser does not enforce.
 */
import assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";

export interface Sample {
  value?: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}

export interface Family {
  name: string;
  help: string;
  type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
  metrics: Sample[];
}

export type Families = Map<string, Family>;

/** Parses `text` (throws on a line the parser rejects) and checks steward's conventions. */
export function parseMetrics(text: string): Families {
  const families = (parsePrometheusTextFormat as (t: string) => Family[])(text);
  const byName: Families = new Map();
  for (const f of families) {
    assert.ok(!byName.has(f.name), `family ${f.name} appears once`);
    byName.set(f.name, f);
    assert.match(f.name, /^steward_[a-z_]+$/, `steward_ prefix: ${f.name}`);
    assert.ok(f.help.length > 0, `${f.name} has HELP`);
    assert.notEqual(f.type, "UNTYPED", `${f.name} has TYPE`);
    if (f.type === "COUNTER") assert.match(f.name, /_total$/, `a counter ends in _total: ${f.name}`);
    else assert.doesNotMatch(f.name, /_total$/, `only counters end in _total: ${f.name}`);
    const series = f.metrics.map((m) => JSON.stringify(Object.entries(m.labels ?? {}).sort()));
    assert.equal(new Set(series).size, series.length, `no duplicate series in ${f.name}`);
  }
  // every sample line belongs to a family declared before it
  let declared = "";
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) declared = type[1]!;
    else if (line !== "" && !line.startsWith("#")) assert.ok(line.startsWith(declared), `'${line}' follows its TYPE line (${declared})`);
  }
  return byName;
}

function matches(m: Sample, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([k, v]) => m.labels?.[k] === v);
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when none. */
export function value(families: Families, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = (families.get(name)?.metrics ?? []).filter((m) => matches(m, labels));
  assert.ok(found.length <= 1, `at most one ${name} sample with ${JSON.stringify(labels)}: ${JSON.stringify(found)}`);
  return found[0]?.value === undefined ? undefined : Number(found[0].value);
}

/** The samples of `name` whose labels include `labels`. */
export function samples(families: Families, name: string, labels: Record<string, string> = {}): Sample[] {
  return (families.get(name)?.metrics ?? []).filter((m) => matches(m, labels));
}

/** Sum of the values of `name` over samples whose labels include `labels` (0 when none). */
export function total(families: Families, name: string, labels: Record<string, string> = {}): number {
  return samples(families, name, labels).reduce((sum, m) => sum + Number(m.value ?? 0), 0);
}
