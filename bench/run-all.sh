#!/usr/bin/env bash
# Runs every benchmark against dist/steward and prints their numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)"; exit 1; }
node bench/startup-64.mjs
node bench/throughput.mjs
node bench/memory-cpu.mjs
node bench/supervisors-haproxy.mjs
node bench/reload-vs-node.mjs --same-session
node bench/reexec-cost.mjs
node bench/exec-helper.mjs
