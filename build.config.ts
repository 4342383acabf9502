import { defineBuildConfig } from "unbuild";

// The library: pure parts (configuration, planning) that other tools may reuse, and the
// worker-side helper (`steward/worker`: answer commands the master CLI routes to a worker).
// The executable is built separately by scripts/build.mjs with bun build --compile.
export default defineBuildConfig({
  entries: ["src/index", "src/worker"],
  declaration: true,
  clean: false,
  rollup: { emitCJS: false },
  failOnWarn: false,
});
