#!/usr/bin/python3
"""A registry proxy that forwards to a real registry, but answers every blob larger
than 64 KiB with half of its bytes and then stalls, so a test can kill the daemon
in the middle of a pull.

  stalling_proxy.py PORT UPSTREAM_HOST:PORT MARKER_FILE

MARKER_FILE is created once the first stall begins.
"""

import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, UPSTREAM, MARKER = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self, head):
        req = urllib.request.Request("http://" + UPSTREAM + self.path, method="HEAD" if head else "GET")
        for key in ("Accept", "Authorization", "Range"):
            if self.headers.get(key):
                req.add_header(key, self.headers[key])
        try:
            resp = urllib.request.urlopen(req, timeout=30)
            status, headers, body = resp.status, resp.headers, (b"" if head else resp.read())
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, e.headers, e.read()
        stall = "/blobs/" in self.path and not head and status == 200 and len(body) > 65536
        self.send_response(status)
        for key in ("Content-Type", "Docker-Content-Digest", "Docker-Distribution-Api-Version"):
            if headers.get(key):
                self.send_header(key, headers[key])
        self.send_header("Content-Length", str(len(body) if not head else headers.get("Content-Length", "0")))
        self.end_headers()
        if head:
            return
        if not stall:
            self.wfile.write(body)
            return
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        open(MARKER, "w").close()
        time.sleep(120)

    def do_GET(self):
        self.forward(False)

    def do_HEAD(self):
        self.forward(True)


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
