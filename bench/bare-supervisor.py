#!/usr/bin/env python3
"""The floor of bench/supervisors-haproxy.mjs: the least any supervisor that starts a fresh
worker can do on a reload, done with no supervisor around it. It binds the listener once
(fd 3), starts `haproxy -db -f CFG` on it in a session of its own (as steward starts its
workers), and, after the bench says `go`, every INTERVAL ms starts a new one, waits until
it accepts (an epoll set of the process holds the listener, read from /proc every 0.5 ms
(BARE_POLL_MS),
as steward observes it), then sends the previous one SIGUSR1 (HAProxy's soft stop), for
SECONDS. So the reloads cause the same churn as a supervisor's: old workers finishing,
clients reconnecting. Nothing is logged, checked or read but that.

BARE_SESSION=shared starts every HAProxy in this script's session instead (each in a process
group of its own): with kernel.sched_autogroup_enabled=1 the CPU is shared out by session,
and the new HAProxy then competes inside the old one's share rather than beside it (as
`haproxy -W`'s master and workers do, and steward's did before each worker led its own
session). That is the experiment the README's benchmark section quotes.

BARE_NICE=N gives each new HAProxy's session the nice value N until it accepts, then 0, as
steward's `start-nice` does (its default is -5; this script's is 0, none: a supervisor with
nothing in it). Needs root (or RLIMIT_NICE) for N < 0; with BARE_SESSION=shared it would
set this script's own session, so it is refused.

Usage: bare-supervisor.py CFG INTERVAL_MS SECONDS
stdout, a line each: `port P`; `pid N` for each HAProxy started, `reaped N` once it is gone
(so the bench can end what is left if this script is killed); after `go` on stdin and the
last reload, `times [...]`: each start's ms to accepting.
Hand-written: no library is a supervisor with nothing in it, which is the point.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

cfg, interval_ms, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
# BARE_SESSION=shared: every HAProxy in this script's session (the docstring)
shared_session = os.environ.get("BARE_SESSION", "own") == "shared"
# how often /proc is read while a new HAProxy starts (BARE_POLL_MS, ms; 0.5 by default)
poll_s = float(os.environ.get("BARE_POLL_MS", "0.5")) / 1000
# BARE_NICE=N: a new HAProxy's session runs at nice N until it accepts (the docstring)
start_nice = int(os.environ.get("BARE_NICE", "0"))
if start_nice and shared_session:
    raise SystemExit("bare-supervisor: BARE_NICE needs sessions of their own (not BARE_SESSION=shared)")
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
sock.listen(4096)
if sock.fileno() != 3:
    os.dup2(sock.fileno(), 3)
inode = os.fstat(3).st_ino


def say(line):
    print(line, flush=True)


def start():
    group = {"process_group": 0} if shared_session else {"start_new_session": True}
    p = subprocess.Popen(["haproxy", "-db", "-f", cfg], pass_fds=(3,), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **group)
    say(f"pid {p.pid}")
    if start_nice:
        session_nice(p.pid, start_nice)
    return p


def session_nice(pid, nice):
    with open(f"/proc/{pid}/autogroup", "w") as f:
        f.write(str(nice))


def reaped(p):
    if p.poll() is None:
        return False
    say(f"reaped {p.pid}")
    return True


def accepting(pid):
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:[eventpoll]":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = f.read()
        except OSError:
            continue
        for line in info.splitlines():
            if line.startswith("tfd:") and " ino:" in line and int(line.rsplit(" ino:", 1)[1].split()[0], 16) == inode:
                return True
    return False


def wait_accepting(p, t0):
    while not accepting(p.pid):
        if p.poll() is not None or time.monotonic() - t0 > 10:
            raise SystemExit(f"bare-supervisor: haproxy {p.pid} not accepting within 10 s (exit {p.returncode})")
        time.sleep(poll_s)
    if start_nice:
        session_nice(p.pid, 0)


current = start()
wait_accepting(current, time.monotonic())
old = []
say(f"port {sock.getsockname()[1]}")
try:
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("bare-supervisor: expected go")
    times = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        new = start()
        wait_accepting(new, t0)
        times.append((time.monotonic() - t0) * 1000)
        os.kill(current.pid, signal.SIGUSR1)
        old.append(current)
        current = new
        old = [p for p in old if not reaped(p)]
        time.sleep(max(0.0, t0 + interval_ms / 1000 - time.monotonic()))
    say(f"times {json.dumps(times)}")
finally:
    for p in old + [current]:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        say(f"reaped {p.pid}")
