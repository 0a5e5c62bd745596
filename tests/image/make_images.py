#!/usr/bin/python3
"""Builds the test images for libcrio-image and pushes them to a registry.

Layers are deterministic tars (fixed mtime, uid/gid 0, sorted entries, gzip
mtime 0), so every run produces the same digests. Prints a JSON document that
describes what was pushed (manifest digests, layer digests, diff IDs), which the
C++ tests read.

  make_images.py --registry 127.0.0.1:PORT [--tls-ca ca.crt] [--user u:p]
                 --busybox /bin/busybox --escape-dir DIR --registry-root DIR
"""

import argparse
import base64
import gzip
import hashlib
import io
import json
import os
import ssl
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request

MTIME = 1700000000

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_tar(entries):
    """entries: list of (name, kind, payload, mode); kind file|dir|symlink|hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload, mode in sorted(entries, key=lambda e: e[0]):
            info = tarfile.TarInfo(name)
            info.mtime = MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = mode
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = payload
                tar.addfile(info)
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = payload
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def compress(raw, how):
    if how == "gzip":
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6) as g:
            g.write(raw)
        return out.getvalue()
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=raw, stdout=subprocess.PIPE, check=True).stdout
    return raw


class Registry:
    def __init__(self, addr, ca, user, cert=None, key=None):
        scheme = "https" if ca else "http"
        self.base = f"{scheme}://{addr}"
        self.ctx = ssl.create_default_context(cafile=ca) if ca else None
        if self.ctx and cert:
            self.ctx.load_cert_chain(cert, key)
        self.auth = "Basic " + base64.b64encode(user.encode()).decode() if user else None

    def call(self, method, url, data=None, headers=None):
        if not url.startswith("http"):
            url = self.base + url
        req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if self.auth:
            req.add_header("Authorization", self.auth)
        try:
            with urllib.request.urlopen(req, context=self.ctx) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def push_blob(self, repo, data):
        digest = sha(data)
        status, _, _ = self.call("HEAD", f"/v2/{repo}/blobs/{digest}")
        if status == 200:
            return digest
        status, headers, body = self.call("POST", f"/v2/{repo}/blobs/uploads/")
        if status != 202:
            raise SystemExit(f"upload start for {repo}: HTTP {status} {body!r}")
        loc = headers["Location"]
        sep = "&" if "?" in loc else "?"
        status, _, body = self.call("PUT", f"{loc}{sep}digest={digest}", data=data,
                                    headers={"Content-Type": "application/octet-stream"})
        if status != 201:
            raise SystemExit(f"upload of {digest} to {repo}: HTTP {status} {body!r}")
        return digest

    def push_manifest(self, repo, ref, media_type, body):
        status, _, resp = self.call("PUT", f"/v2/{repo}/manifests/{ref}", data=body,
                                    headers={"Content-Type": media_type})
        if status != 201:
            raise SystemExit(f"manifest {repo}:{ref}: HTTP {status} {resp!r}")
        return sha(body)


def dumps(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class Builder:
    def __init__(self, reg):
        self.reg = reg
        self.out = {}

    def layer(self, repo, entries, how, media_type, raw=None):
        raw = raw if raw is not None else make_tar(entries)
        blob = compress(raw, how)
        digest = self.reg.push_blob(repo, blob)
        return {"mediaType": media_type, "digest": digest, "size": len(blob)}, sha(raw)

    def image(self, repo, tag, layers, docker=False, config_extra=None, diff_ids=None, push_tag=True,
              arch="amd64"):
        """layers: list of (descriptor, diff_id)."""
        config = {
            "architecture": arch,
            "os": "linux",
            "created": "2023-11-14T22:13:20Z",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["/bin/sh"],
            },
            "rootfs": {"type": "layers", "diff_ids": diff_ids or [d for _, d in layers]},
            "history": [{"created": "2023-11-14T22:13:20Z", "created_by": f"layer {i}"} for i in range(len(layers))],
        }
        if config_extra:
            config["config"].update(config_extra)
        config_blob = dumps(config)
        config_digest = self.reg.push_blob(repo, config_blob)
        manifest = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG, "digest": config_digest,
                       "size": len(config_blob)},
            "layers": [d for d, _ in layers],
        }
        body = dumps(manifest)
        mt = manifest["mediaType"]
        digest = self.reg.push_manifest(repo, tag if push_tag else sha(body), mt, body)
        info = {"manifest_digest": digest, "config_digest": config_digest, "media_type": mt,
                "layers": [d["digest"] for d, _ in layers], "diff_ids": config["rootfs"]["diff_ids"],
                "size": len(body)}
        if push_tag:
            self.out[f"{repo}:{tag}"] = info
        return info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--registry", required=True)
    ap.add_argument("--tls-ca")
    ap.add_argument("--user")
    ap.add_argument("--client-cert")
    ap.add_argument("--client-key")
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--escape-dir", required=True, help="target of the escaping symlink in the hostile image")
    ap.add_argument("--registry-root", help="registry storage root, to corrupt one blob on disk")
    ap.add_argument("--only", help="comma-separated image names to build (default all)")
    args = ap.parse_args()

    reg = Registry(args.registry, args.tls_ca, args.user, args.client_cert, args.client_key)
    b = Builder(reg)
    only = set(args.only.split(",")) if args.only else None

    def want(name):
        return only is None or name in only

    with open(args.busybox, "rb") as f:
        busybox = f.read()
    passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    base_entries = [
        ("bin", "dir", None, 0o755),
        ("bin/busybox", "file", busybox, 0o755),
        ("bin/sh", "hardlink", "bin/busybox", 0o755),
        ("bin/ls", "symlink", "busybox", 0o777),
        ("etc", "dir", None, 0o755),
        ("etc/passwd", "file", passwd, 0o644),
        ("etc/gone", "file", b"deleted by the next layer\n", 0o644),
        ("etc/removed", "dir", None, 0o755),
        ("etc/removed/old", "file", b"hidden by an opaque directory\n", 0o644),
        ("tmp", "dir", None, 0o1777),
    ]
    base = b.layer("test/multi", base_entries, "gzip", OCI_GZIP)

    if want("multi"):
        second = b.layer("test/multi", [
            ("data", "dir", None, 0o755),
            ("data/file2", "file", b"second layer\n", 0o600),
            ("etc", "dir", None, 0o755),
            ("etc/.wh.gone", "file", b"", 0o644),
            ("etc/removed", "dir", None, 0o755),
            ("etc/removed/.wh..wh..opq", "file", b"", 0o644),
            ("etc/removed/new", "file", b"after the opaque marker\n", 0o644),
        ], "gzip", OCI_GZIP)
        third = b.layer("test/multi", [("hello.txt", "file", b"hello from an uncompressed layer\n", 0o644)],
                        "none", OCI_TAR)
        b.image("test/multi", "v1", [base, second, third],
                config_extra={"User": "1000:1000", "WorkingDir": "/data", "Entrypoint": ["/bin/sh", "-c"],
                              "ExposedPorts": {"8080/tcp": {}}, "Labels": {"suite": "crio-image"},
                              "StopSignal": "SIGINT", "Volumes": {"/data": {}}})

    if want("docker"):
        # Docker schema 2, sharing the base layer blob (Docker media type, same bytes).
        desc, diff = base
        desc = dict(desc, mediaType=DOCKER_GZIP)
        reg.push_blob("test/docker", compress(make_tar(base_entries), "gzip"))
        extra = b.layer("test/docker", [("docker.txt", "file", b"docker\n", 0o644)], "gzip", DOCKER_GZIP)
        b.image("test/docker", "v1", [(desc, diff), extra], docker=True)

    if want("pause"):
        # An infra ("pause") image: PID 1 sleeps for ever.
        reg.push_blob("test/pause", compress(make_tar(base_entries), "gzip"))
        b.image("test/pause", "v1", [base],
                config_extra={"Entrypoint": ["/bin/busybox", "sleep", "2147483647"], "Cmd": None})

    if want("barepause"):
        # A pause image with neither entrypoint nor command: the daemon's pause_command
        # runs. /pause is a script, so a test can name it and see it run.
        pause = b"#!/bin/busybox sh\nexec /bin/busybox sleep 2147483647\n"
        bare = b.layer("test/barepause", base_entries + [("pause", "file", pause, 0o755)], "gzip", OCI_GZIP)
        b.image("test/barepause", "v1", [bare], config_extra={"Cmd": None})
    if want("users"):
        # The base with an /etc/group: ids it lacks get entries in the container's copies.
        reg.push_blob("test/users", compress(make_tar(base_entries), "gzip"))
        group = b.layer("test/users", [("etc", "dir", None, 0o755),
                                       ("etc/group", "file", b"root:x:0:\nnobody:x:65534:\n", 0o644)],
                        "gzip", OCI_GZIP)
        b.image("test/users", "v1", [base, group])

    if want("zstd"):
        z = b.layer("test/zstd", [("zstd.txt", "file", b"zstd compressed layer\n" * 100, 0o644)], "zstd", OCI_ZSTD)
        reg.push_blob("test/zstd", compress(make_tar(base_entries), "gzip"))
        b.image("test/zstd", "v1", [base, z])

    if want("index"):
        reg.push_blob("test/index", compress(make_tar(base_entries), "gzip"))
        amd = b.layer("test/index", [("arch", "file", b"amd64\n", 0o644)], "gzip", OCI_GZIP)
        arm = b.layer("test/index", [("arch", "file", b"arm64\n", 0o644)], "gzip", OCI_GZIP)
        m_amd = b.image("test/index", "unused", [base, amd], push_tag=False)
        m_arm = b.image("test/index", "unused", [base, arm], push_tag=False, arch="arm64")
        for kind, info in (("oci", None), ("docker", None)):
            mt_list = OCI_INDEX if kind == "oci" else DOCKER_LIST
            index = {"schemaVersion": 2, "mediaType": mt_list, "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": m_arm["manifest_digest"], "size": m_arm["size"],
                 "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
                {"mediaType": OCI_MANIFEST, "digest": m_amd["manifest_digest"], "size": m_amd["size"],
                 "platform": {"os": "linux", "architecture": "amd64"}},
            ]}
            if kind == "oci":
                index["manifests"].append({"mediaType": OCI_MANIFEST, "digest": m_amd["manifest_digest"],
                                           "size": m_amd["size"],
                                           "platform": {"os": "unknown", "architecture": "unknown"}})
            body = dumps(index)
            digest = reg.push_manifest("test/index", kind, mt_list, body)
            b.out[f"test/index:{kind}"] = {"manifest_digest": digest, "media_type": mt_list,
                                           "amd64": m_amd, "arm64": m_arm}

    if only is not None and "big" in only:
        # 64 MiB of zeros over the busybox base: a small blob that needs much room
        # once unpacked, for the disk-full tests. Only when asked for by name.
        big = b.layer("test/big", [("big", "dir", None, 0o755),
                                   ("big/zeros", "file", bytes(64 << 20), 0o644)], "gzip", OCI_GZIP)
        reg.push_blob("test/big", compress(make_tar(base_entries), "gzip"))
        b.image("test/big", "v1", [base, big])

    if want("hostile"):
        # Config names a diff ID that is not the layer's.
        layer = b.layer("hostile/diffid", [("x", "file", b"x\n", 0o644)], "gzip", OCI_GZIP)
        b.image("hostile/diffid", "v1", [layer], diff_ids=[sha(b"something else")])

        # A tar entry climbing out of the root.
        raw = make_tar([("../escaped-dotdot", "file", b"escaped\n", 0o644)])
        b.image("hostile/dotdot", "v1", [b.layer("hostile/dotdot", None, "gzip", OCI_GZIP, raw=raw)])

        # A symlink pointing outside the rootfs, then a file written through it.
        raw = make_tar([("evil", "symlink", args.escape_dir, 0o777),
                        ("evil/pwned", "file", b"written through a symlink\n", 0o644)])
        b.image("hostile/symlink", "v1", [b.layer("hostile/symlink", None, "gzip", OCI_GZIP, raw=raw)])
        raw = make_tar([("rel", "symlink", "../../../../../../../../../../" + args.escape_dir.lstrip("/"), 0o777),
                        ("rel/pwned-relative", "file", b"written through a symlink\n", 0o644)])
        b.image("hostile/symlink-relative", "v1",
                [b.layer("hostile/symlink-relative", None, "gzip", OCI_GZIP, raw=raw)])

        # A good first layer and a second one whose blob bytes are corrupted on the
        # registry's disk after the push: the compressed digest no longer matches.
        good = b.layer("hostile/blobdigest", [("good", "file", b"good\n", 0o644)], "gzip", OCI_GZIP)
        # Uncompressed, so that only the digest (not a gzip CRC) can notice the change.
        bad = b.layer("hostile/blobdigest", [("bad", "file", b"bad blob\n" * 50, 0o644)], "none", OCI_TAR)
        b.image("hostile/blobdigest", "v1", [good, bad])
        # A sound image sharing the good layer, to pull while the broken one fails.
        reg.push_blob("hostile/goodonly", compress(make_tar([("good", "file", b"good\n", 0o644)]), "gzip"))
        b.image("hostile/goodonly", "v1", [good])
        if args.registry_root:
            hexd = bad[0]["digest"].split(":")[1]
            path = os.path.join(args.registry_root, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")
            with open(path, "r+b") as f:
                data = bytearray(f.read())
                data[data.index(b"bad blob")] ^= 0x20  # "Bad blob": still a valid tar
                f.seek(0)
                f.write(bytes(data))
            b.out["hostile/blobdigest:v1"]["corrupted"] = bad[0]["digest"]

    json.dump(b.out, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
