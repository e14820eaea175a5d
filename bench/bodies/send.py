"""bench/bodies/send.py — CLIENTS connections each sending SIZE-byte
request bodies back to back for SECONDS, multiplexed in one process (a
select loop, so the senders cost little CPU). Prints how many bodies were
answered, with which statuses, and the MiB/s sent.

    send.py URL CLIENTS SIZE SECONDS MODE [TOKEN]

MODE unauth: a JSON array of zeros without a token (PUT secret/data/x),
the flood an anonymous client can send. MODE string: one JSON string of
SIZE bytes with TOKEN, as the token to look up (POST auth/token/lookup):
allowed, parsed on the worker pool, refused by the lookup, nothing
written."""

import collections
import re
import select
import socket
import sys
import time
from urllib.parse import urlparse

url, clients, size, seconds, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
token = sys.argv[6] if len(sys.argv) > 6 else None
u = urlparse(url)
host, port = u.hostname, u.port

if mode == "unauth":
    path, body = "/v1/secret/data/x", b"[" + b"0," * ((size - 2) // 2) + b"0]"
    token = None
elif mode == "string":
    path, body = "/v1/auth/token/lookup", b'{"token": "' + b"a" * (size - 14) + b'"}'
else:
    sys.exit("MODE must be unauth or string")
head = f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
if token:
    head += f"X-Vault-Token: {token}\r\n"
head += f"Content-Length: {len(body)}\r\n\r\n"
request = memoryview(head.encode() + body)


class Conn:
    def __init__(self):
        self.sock = socket.create_connection((host, port))
        self.sock.setblocking(False)
        self.sent = 0
        self.got = b""


statuses = collections.Counter()
sent_bytes = 0
conns = [Conn() for _ in range(clients)]
deadline = time.monotonic() + seconds
start = time.monotonic()
while time.monotonic() < deadline:
    writers = [c.sock for c in conns if c.sent < len(request)]
    readers = [c.sock for c in conns]
    r, w, _ = select.select(readers, writers, [], 0.2)
    for c in conns:
        try:
            if c.sock in w:
                n = c.sock.send(request[c.sent:c.sent + (1 << 20)])
                c.sent += n
                sent_bytes += n
            chunk = c.sock.recv(65536) if c.sock in r else None
        except BlockingIOError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            statuses["reset"] += 1
            c.sock.close()
            c.__init__()
            continue
        if chunk is not None:
            c.got += chunk
            m = re.match(rb"HTTP/1\.1 (\d{3}).*?\r\nContent-Length: (\d+)\r\n.*?\r\n\r\n", c.got, re.S | re.I)
            if not chunk or (m and len(c.got) >= m.end() + int(m.group(2))):
                statuses[m.group(1).decode() if m else "closed"] += 1
                if not chunk or c.sent < len(request):
                    c.sock.close()
                    c.__init__()
                else:
                    c.sent, c.got = 0, b""
elapsed = time.monotonic() - start
total = sum(statuses.values())
print(f"bodies answered: {total} ({', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))}); "
      f"sent {sent_bytes / elapsed / (1 << 20):.0f} MiB/s")
