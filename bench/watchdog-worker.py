#!/usr/bin/env python3
# The idle-CPU bench's worker (bench/idle-cpu.mjs): holds its listener (fd 3) without
# accepting, sends READY=1 on NOTIFY_SOCKET (ready = "notify": the watchdog arms at
# readiness, so not before this interpreter has started), then WATCHDOG=1 every half of
# WATCHDOG_USEC (systemd's advice) when steward gives one. Python, because Node cannot
# send unix datagrams.
import os
import signal
import socket
import time

signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
usec = int(os.environ.get("WATCHDOG_USEC", "0"))
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
while usec == 0:
    signal.pause()
while True:
    sock.sendto(b"WATCHDOG=1", os.environ["NOTIFY_SOCKET"])
    time.sleep(usec / 2 / 1_000_000)
