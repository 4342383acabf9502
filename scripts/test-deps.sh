#!/usr/bin/env bash
# The Debian packages the test suite needs, installed when missing (as root, or through
# sudo). `npm test` runs this first (the "pretest" script), so the README's test command
# works on a fresh machine; on a machine that has them all it only asks dpkg.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# What each package is for:
#   socat             the master-CLI tests' independent client
#   python3           fixtures (notify-ready.py, pty-drive.py, ...)
#   wrk               load in the reload-under-load tests and benchmarks
#   haproxy           the reference the comparison tests and benchmarks run beside steward
#   nginx-light, gunicorn, python3-uvicorn   third-party workers steward supervises
#   qemu-user, libc6-arm64-cross   run the arm64 build's `version` under qemu-aarch64 (its loader and libc)
#   systemd           systemd-analyze verify on the shipped units; systemd-notify
#   curl              HTTP requests from outside the test runner
#   util-linux        unshare and setpriv (PID namespaces, identities)
#   libserver-starter-perl   Server::Starter, a socket-passing dialect the servers suite runs
#   rustc             builds the servers suite's std-only Rust server (only when no rustc is on PATH)
packages=(socat python3 wrk haproxy nginx-light gunicorn python3-uvicorn qemu-user libc6-arm64-cross systemd curl util-linux libserver-starter-perl)
need=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
command -v rustc >/dev/null || need+=(rustc)
if [ ${#need[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  echo "test-deps: installing ${need[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
