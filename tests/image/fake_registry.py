#!/usr/bin/python3
"""A scripted registry for client behaviour a real registry cannot be made to show:
bearer tokens, redirects to another host, 5xx, connections that break, stalls.

  fake_registry.py PORT BLOB_PORT LOGFILE

Repository "secure/app" needs a bearer token from /token (basic auth user:pass
when asked with credentials gives a "full" token; anonymous gives "anon"), and
serves one manifest and one blob; the blob answer is a 307 to BLOB_PORT. Other
repositories:
  flaky/app      blob: 503 twice, then the blob
  broken/app     blob: first answer sends half the bytes and closes; honours Range
  stall/app      blob: sends 10 bytes then nothing for 30 s
Every request is appended to LOGFILE as one JSON line (path, authorization).
"""

import base64
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, BLOB_PORT, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
BLOB = bytes(range(256)) * 400  # 102400 bytes
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": BLOB_DIGEST, "size": len(BLOB)},
    "layers": [],
}).encode()
lock = threading.Lock()
counters = {}


def bump(key):
    with lock:
        counters[key] = counters.get(key, 0) + 1
        return counters[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self):
        with lock, open(LOG, "a") as f:
            f.write(json.dumps({"port": self.server.server_address[1], "path": self.path,
                                "authorization": self.headers.get("Authorization", ""),
                                "range": self.headers.get("Range", "")}) + "\n")

    def send(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def challenge(self, repo):
        realm = f"http://127.0.0.1:{PORT}/token"
        self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                  {"WWW-Authenticate": f'Bearer realm="{realm}",service="fake",scope="repository:{repo}:pull"',
                   "Content-Type": "application/json"})

    def do_POST(self):
        self.record()
        length = int(self.headers.get("Content-Length", "0"))
        form = self.rfile.read(length).decode()
        if self.path.startswith("/token") and "grant_type=refresh_token" in form and "refresh_token=refresh-ok" in form:
            return self.send(200, json.dumps({"access_token": "full"}).encode())
        self.send(401, b"{}")

    def do_GET(self):
        self.record()
        if self.server.server_address[1] == BLOB_PORT:
            return self.send(200, BLOB) if self.path == "/storage/blob" else self.send(404)
        path = self.path
        if path.startswith("/token"):
            auth = self.headers.get("Authorization", "")
            if auth:
                if auth != "Basic " + base64.b64encode(b"user:pass").decode():
                    return self.send(401, b"{}")
                return self.send(200, json.dumps({"token": "full", "expires_in": 300}).encode())
            return self.send(200, json.dumps({"token": "anon"}).encode())
        if path == "/v2/":
            return self.challenge("")
        if path.startswith("/v2/secure/app/"):
            if self.headers.get("Authorization", "") not in ("Bearer full", "Bearer anon"):
                return self.challenge("secure/app")
            if path.endswith("/manifests/private") and self.headers.get("Authorization") != "Bearer full":
                return self.send(403, b'{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}')
            if "/manifests/" in path:
                return self.send(200, MANIFEST, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
            if "/blobs/" in path:
                return self.send(307, b"", {"Location": f"http://127.0.0.1:{BLOB_PORT}/storage/blob"})
        if path.startswith("/v2/flaky/app/blobs/"):
            if bump("flaky") <= 2:
                return self.send(503, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}')
            return self.send(200, BLOB)
        if path.startswith("/v2/broken/app/blobs/"):
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
                body = BLOB[start:]
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(BLOB)))
            self.end_headers()
            self.wfile.write(BLOB[: len(BLOB) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if path.startswith("/v2/stall/app/blobs/"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(BLOB)))
            self.end_headers()
            self.wfile.write(BLOB[:10])
            self.wfile.flush()
            time.sleep(30)
            return
        self.send(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}',
                  {"Content-Type": "application/json"})


# Both ports are bound before the digest is printed: the test starts as soon as it
# reads the digest, and must find the servers listening.
main_server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
blob_server = ThreadingHTTPServer(("127.0.0.1", BLOB_PORT), Handler)
threading.Thread(target=blob_server.serve_forever, daemon=True).start()
print(BLOB_DIGEST, flush=True)
main_server.serve_forever()
