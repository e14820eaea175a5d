#!/usr/bin/python3
"""Local servers for test_outbound: HTTPS (a throwaway CA made here with
openssl), plain HTTP, and an HTTP proxy (CONNECT tunnels and absolute-form
requests) that logs each request line. Prints one JSON line with the ports
and paths once ready, then serves until killed.

usage: outbound_server.py DIR
"""
import http.server
import json
import os
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time

d = sys.argv[1]


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


def make_ca(name):
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.pem", "-days", "2", "-subj", f"/CN=Trove test {name}")


make_ca("ca")
make_ca("other")
sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
   "-keyout", f"{d}/srv.key", "-out", f"{d}/srv.csr", "-subj", "/CN=127.0.0.1")
with open(f"{d}/ext.cnf", "w") as f:
    f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
sh("openssl", "x509", "-req", "-in", f"{d}/srv.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
   "-CAcreateserial", "-out", f"{d}/srv.pem", "-days", "2", "-extfile", f"{d}/ext.cnf")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body, extra=()):
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        p = self.path
        if p == "/ok":
            self.send(200, b"hello", [("X-Test", "yes")])
        elif p == "/slow":
            time.sleep(3)
            self.send(200, b"late")
        elif p == "/big":
            self.send(200, b"x" * (2 << 20))
        elif p == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"y" * 65536
            try:
                for _ in range(64):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
        elif p == "/redirect":
            self.send(302, b"", [("Location", "/ok")])
        elif p == "/redirect-file":
            self.send(302, b"", [("Location", "file:///etc/passwd")])
        else:
            self.send(404, b"no")

    do_HEAD = do_GET

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        out = {"method": self.command, "body": body.decode(), "x": self.headers.get("X-Custom")}
        self.send(201, json.dumps(out).encode(), [("Content-Type", "application/json")])

    do_PUT = do_POST


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


https = Server(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(f"{d}/srv.pem", f"{d}/srv.key")
https.socket = ctx.wrap_socket(https.socket, server_side=True)
plain = Server(("127.0.0.1", 0), Handler)

log_path = f"{d}/proxy.log"
log_lock = threading.Lock()


def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Proxy(socketserver.BaseRequestHandler):
    def handle(self):
        head = b""
        while b"\r\n\r\n" not in head:
            data = self.request.recv(4096)
            if not data:
                return
            head += data
        line = head.split(b"\r\n", 1)[0].decode()
        with log_lock, open(log_path, "a") as f:
            f.write(line + "\n")
        method, target, _ = line.split(" ", 2)
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            up = socket.create_connection((host, int(port)))
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            t = threading.Thread(target=pipe, args=(up, self.request), daemon=True)
            t.start()
            pipe(self.request, up)
            t.join()
        else:
            body = b"proxied " + target.encode()
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                                 % (len(body), body))


class ProxyServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


proxy = ProxyServer(("127.0.0.1", 0), Proxy)
for srv in (https, plain, proxy):
    threading.Thread(target=srv.serve_forever, daemon=True).start()
print(json.dumps({"https": https.server_address[1], "http": plain.server_address[1],
                  "proxy": proxy.server_address[1], "ca": f"{d}/ca.pem", "other_ca": f"{d}/other.pem",
                  "log": log_path, "pid": os.getpid()}), flush=True)
while True:
    time.sleep(3600)
