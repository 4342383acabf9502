import { defineBuildConfig } from "unbuild";

// The library: pure parts (configuration, planning) that other tools may reuse.
// The executable is built separately by scripts/build.mjs with bun build --compile.
export default defineBuildConfig({
  entries: ["src/index"],
  declaration: true,
  clean: false,
  rollup: { emitCJS: false },
  failOnWarn: false,
});
