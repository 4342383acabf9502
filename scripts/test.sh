#!/usr/bin/env bash
# The whole test suite: unit tests under Bun and under Deno, then the end-to-end suite
# against the compiled binary, `bun src/main.ts` and `deno run -A src/main.ts`.
# Prints one closing line: "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=node_modules/.bin
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
passed=0
failed=0

count_bun() { # bun test prints " N pass" and " N fail"
  local p f
  p=$(grep -E '^ *[0-9]+ pass$' "$1" | tail -1 | grep -oE '[0-9]+' || echo 0)
  f=$(grep -E '^ *[0-9]+ fail$' "$1" | tail -1 | grep -oE '[0-9]+' || echo 0)
  passed=$((passed + p)); failed=$((failed + f))
}
count_deno() { # deno test prints "ok | 5 passed (14 steps) | 0 failed" or "FAILED | 5 passed (14 steps) | 2 failed (3 steps)"
  local line p s f fs
  line=$(sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -E '(ok|FAILED) \| [0-9]+ passed' | tail -1)
  p=$(echo "$line" | grep -oE '[0-9]+ passed' | head -1 | grep -oE '[0-9]+' || echo 0)
  s=$(echo "$line" | grep -oE '[0-9]+ passed \([0-9]+ steps?\)' | grep -oE '\([0-9]+' | grep -oE '[0-9]+' || echo 0)
  f=$(echo "$line" | grep -oE '[0-9]+ failed' | head -1 | grep -oE '[0-9]+' || echo 0)
  fs=$(echo "$line" | grep -oE '[0-9]+ failed \([0-9]+ steps?\)' | grep -oE '\([0-9]+' | grep -oE '[0-9]+' || echo 0)
  # describe() blocks are counted as tests and their test()s as steps: count the leaves
  [ "$s" -gt 0 ] && p=$s
  [ "$fs" -gt 0 ] && f=$fs
  passed=$((passed + p)); failed=$((failed + f))
}
step() { echo; echo "== $*"; }

step "build (library + dist/steward)"
npm run --silent build || { echo "build failed"; exit 1; }

step "typecheck (tsc --noEmit, strict)"
node_modules/.bin/tsc --noEmit -p . || status=1

step "unit tests under Bun"
$BIN/bun test test/unit 2>&1 | tee "$out/unit-bun.txt"; [ "${PIPESTATUS[0]}" = 0 ] || status=1
count_bun "$out/unit-bun.txt"

step "unit tests under Deno"
$BIN/deno test -A test/unit 2>&1 | tee "$out/unit-deno.txt"; [ "${PIPESTATUS[0]}" = 0 ] || status=1
count_deno "$out/unit-deno.txt"

step "end-to-end tests (modes: ${STEWARD_E2E_MODES:-binary,bun,deno})"
DENO_JOBS=${DENO_JOBS:-3} $BIN/deno test -A --parallel test/e2e/ 2>&1 | tee "$out/e2e.txt"; [ "${PIPESTATUS[0]}" = 0 ] || status=1
count_deno "$out/e2e.txt"

echo
echo "tests: $passed passed, $failed failed"
if [ "$passed" = 0 ]; then echo "no test ran"; exit 1; fi
exit $status
