/**
 * The container and Kubernetes examples, checked as far as this machine can without a
 * container engine or a cluster: every file the Containerfile copies exists and is in the
 * build context (.dockerignore), the configurations pass steward's own validation, the
 * Kubernetes YAML parses, and its probes, socket, volumes and grace period agree with
 * the configuration it ships.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseYAML } from "confbox";
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

/** steward's own validation of a configuration text, as `steward check -f` does it. */
async function validated(text: string, name: string): Promise<Config> {
  const dir = mkdtempSync(join(tmpdir(), "steward-examples-"));
  try {
    writeFileSync(join(dir, name), text);
    const result = await loadConfig({ file: name, cwd: dir, overrides: {} });
    assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
    return result.config;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("examples/container", () => {
  const containerfile = read("examples/container/Containerfile");
  const ignored = read(".dockerignore").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

  test("every file copied from the build context exists and is not in .dockerignore", async () => {
    const copies = [...containerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    assert.ok(copies.length >= 5, containerfile);
    for (const source of copies.flat()) {
      assert.ok(existsSync(join(ROOT, source)), `${source} exists`);
      const top = source.split("/")[0]!;
      assert.ok(!ignored.includes(top), `${source} is in the build context`);
    }
  });

  test(".dockerignore keeps the heavy and the built out of the context", async () => {
    for (const path of ["node_modules", "dist", ".git"]) assert.ok(ignored.includes(path), path);
  });

  test("the documented build command, the configuration it copies, and its socket", async () => {
    assert.match(containerfile, /^#\s+docker build -f examples\/container\/Containerfile -t steward-hello \.$/m);
    const config = await validated(read("examples/container/steward.toml"), "steward.toml");
    const socket = config.masterCli[0]!.bind;
    assert.equal(socket, "/run/steward/master.sock");
    assert.ok(containerfile.includes(`"status", "-S", "${socket}"`), "the health check asks that socket");
    assert.ok(containerfile.includes(`install -d -o node -g node ${dirname(socket)}`), "the unprivileged user can create it");
    // `docker stop` waits 10 s by default before SIGKILL
    assert.ok(config.global.hardStopAfter < 10_000, `hard-stop-after ${config.global.hardStopAfter} ms`);
  });
});

describe("examples/kubernetes", () => {
  const docs = read("examples/kubernetes/steward-hello.yaml").split(/^---$/m).map((d) => parseYAML(d) as any);
  const kind = (k: string) => docs.find((d) => d.kind === k);

  test("a ConfigMap, a Deployment and a Service", async () => {
    assert.deepEqual(docs.map((d) => d.kind), ["ConfigMap", "Deployment", "Service"]);
  });

  test("steward is the entrypoint; its configuration is the ConfigMap's, and valid", async () => {
    const pod = kind("Deployment").spec.template.spec;
    const [container] = pod.containers;
    assert.equal(container.image, "steward-hello");
    assert.equal(container.command[0], "/usr/local/bin/steward");
    const file: string = container.args[container.args.indexOf("-f") + 1];
    const mount = container.volumeMounts.find((m: any) => file.startsWith(m.mountPath + "/"));
    const volume = pod.volumes.find((v: any) => v.name === mount.name);
    assert.equal(volume.configMap.name, kind("ConfigMap").metadata.name);
    const key = file.slice(mount.mountPath.length + 1);
    await validated(kind("ConfigMap").data[key], key);
  });

  test("probes run `steward status` on the configured socket, in a writable volume", async () => {
    const pod = kind("Deployment").spec.template.spec;
    const [container] = pod.containers;
    const config = await validated(kind("ConfigMap").data["steward.toml"], "steward.toml");
    const socket = config.masterCli[0]!.bind;
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      assert.deepEqual(probe.exec.command, ["/usr/local/bin/steward", "status", "-S", socket]);
    }
    const mount = container.volumeMounts.find((m: any) => m.mountPath === dirname(socket));
    assert.ok(mount && !mount.readOnly, `a writable mount at ${dirname(socket)}`);
    assert.ok("emptyDir" in pod.volumes.find((v: any) => v.name === mount.name));
    assert.ok(container.env.some((e: any) => e.name === "TMPDIR" && e.value === dirname(socket)), "the run directory is writable too");
  });

  test("terminationGracePeriodSeconds covers hard-stop-after", async () => {
    const pod = kind("Deployment").spec.template.spec;
    const config = await validated(kind("ConfigMap").data["steward.toml"], "steward.toml");
    assert.ok(config.global.hardStopAfter > 0, "hard-stop-after is not 'never'");
    assert.ok(pod.terminationGracePeriodSeconds * 1000 >= config.global.hardStopAfter + 5_000,
      `${pod.terminationGracePeriodSeconds} s vs hard-stop-after ${config.global.hardStopAfter} ms plus 5 s for the master's own exit`);
  });

  test("the Service sends to the container's named port, which the configuration listens on", async () => {
    const [container] = kind("Deployment").spec.template.spec.containers;
    const config = await validated(kind("ConfigMap").data["steward.toml"], "steward.toml");
    const port = container.ports.find((p: any) => p.name === kind("Service").spec.ports[0].targetPort);
    assert.equal(config.listen[0]!.bind, `tcp://0.0.0.0:${port.containerPort}`);
  });
});
