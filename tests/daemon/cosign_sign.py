#!/usr/bin/python3
"""Signs an image in a registry the way cosign stores signatures: an OCI manifest at
tag "sha256-<hex>.sig" whose layer is the simple-signing payload, with the base64
ECDSA signature in the layer's "dev.cosignproject.cosign/signature" annotation.

  cosign_sign.py REGISTRY REPOSITORY MANIFEST_DIGEST DOCKER_REFERENCE PRIVATE_KEY_PEM
"""

import base64
import hashlib
import json
import subprocess
import sys
import tempfile
import urllib.request

registry, repo, digest, identity, key = sys.argv[1:6]


def push_blob(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    req = urllib.request.Request(f"http://{registry}/v2/{repo}/blobs/uploads/", method="POST", data=b"")
    location = urllib.request.urlopen(req).headers["Location"]
    if location.startswith("/"):
        location = f"http://{registry}{location}"
    sep = "&" if "?" in location else "?"
    req = urllib.request.Request(f"{location}{sep}digest={d}", method="PUT", data=data,
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req)
    return d


payload = json.dumps({
    "critical": {
        "identity": {"docker-reference": identity},
        "image": {"docker-manifest-digest": digest},
        "type": "cosign container image signature",
    },
    "optional": None,
}).encode()
with tempfile.NamedTemporaryFile() as f:
    f.write(payload)
    f.flush()
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, f.name], check=True,
                         capture_output=True).stdout
signature = base64.b64encode(der).decode()

config = b"{}"
manifest = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": push_blob(config),
               "size": len(config)},
    "layers": [{
        "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
        "digest": push_blob(payload),
        "size": len(payload),
        "annotations": {"dev.cosignproject.cosign/signature": signature},
    }],
}).encode()
tag = digest.replace(":", "-") + ".sig"
req = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/{tag}", method="PUT", data=manifest,
                             headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
urllib.request.urlopen(req)
print(tag)
