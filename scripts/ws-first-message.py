"""Opens a view's websocket by hand, offering permessage-deflate as browsers do or not, and
prints the first message's size on the wire and as JSON, and the time from the upgrade request
to its last byte; then the same sizes summed over the next MORE messages (one a tick). Plain
sockets and zlib, so no websocket library is needed (used by scripts/bench-ws.sh).

    ws-first-message.py HOST PORT PATH deflate|plain [MORE]
"""
import socket
import struct
import sys
import time
import zlib

host, port, path, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
more = int(sys.argv[5]) if len(sys.argv) > 5 else 0

request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n")
if kind == "deflate":
    request += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
started = time.perf_counter()
stream = socket.create_connection((host, port)).makefile("rwb")
stream.write((request + "\r\n").encode())
stream.flush()
status = stream.readline()
assert b" 101 " in status, status
while stream.readline() not in (b"\r\n", b""):
    pass


def exact(n):
    data = stream.read(n)
    assert len(data) == n, "the socket closed"
    return data


def message():
    """The next message: (bytes on the wire, its JSON)."""
    first, second = exact(2)
    n = second & 0x7f
    if n == 126:
        n = struct.unpack(">H", exact(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", exact(8))[0]
    payload = exact(n)
    if first & 0x40:  # RSV1: compressed
        return n, zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")
    return n, payload


def mib(n):
    return f"{n / 2**20:.2f} MiB"


wire, text = message()
elapsed_ms = 1000 * (time.perf_counter() - started)
line = f"{kind}: first message {mib(wire)} on the wire, {mib(len(text))} of JSON, in {elapsed_ms:.0f} ms"
if more:
    sizes = [message() for _ in range(more)]
    line += (f"; next {more}: {mib(sum(w for w, _ in sizes))} on the wire,"
             f" {mib(sum(len(t) for _, t in sizes))} of JSON")
print(line)
