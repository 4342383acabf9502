# The smallest useful worker: blocks in accept() on fd 3 and answers each connection.
import socket
s = socket.socket(fileno=3)
while True:
    c, _ = s.accept()
    c.sendall(b"HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\nok\n")
    c.close()
