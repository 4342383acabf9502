# A minimal pre-fork server for bench/readiness.mjs: the parent forks two children that
# wait in select() on the inherited fd 3 and answer each connection; the parent only
# waits for them (as gunicorn's arbiter does). SIGTERM to the parent stops all three.
import os
import select
import signal
import socket
import sys

listener = socket.socket(fileno=3)
listener.setblocking(False)
kids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        while True:
            select.select([listener], [], [])
            try:
                c, _ = listener.accept()
            except BlockingIOError:
                continue
            c.sendall(b"HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\nok\n")
            c.close()
    kids.append(pid)


def stop(*_):
    for k in kids:
        os.kill(k, signal.SIGTERM)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
while True:
    signal.pause()
