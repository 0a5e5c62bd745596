#!/usr/bin/python3
"""Build a big multi-layer image from files already on this Debian machine and push
it to a plain-HTTP v2 registry. Python 3 stdlib only.

    make_big_image.py --registry 127.0.0.1:PORT [--repo bench/big] [--tag 1]
                      [--target-mb 200] [--format oci|docker] [--summary FILE]

Each layer takes a share of --target-mb from one host tree (python stdlib,
headers, shared libraries, /usr/share, ...), walking it in sorted order and
keeping regular files up to 4 MiB, directories and symlinks, so a layer holds
thousands of small and mid-sized files, as real images do. Tar entries are
normalised (uid/gid 0, fixed mtime, modes 0755/0644) and gzip carries mtime 0,
so the same machine gives the same digests every time.

Layers are streamed to temporary files (tar -> sha256 of the diff -> gzip ->
sha256 of the blob), never held in memory whole. A JSON summary (reference,
manifest digest, compressed and uncompressed bytes, file count, per-layer facts)
is printed on stdout and written to --summary if given.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import stat
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request

MTIME = 1700000000
CREATED = "2023-11-14T22:13:20Z"
MAX_FILE = 4 << 20

# (host tree, share of the target size). The shares add up to 1.
SOURCES = [
    ("/usr/lib/python3.11", 0.22),
    ("/usr/include", 0.22),
    ("/usr/lib/x86_64-linux-gnu", 0.22),
    ("/usr/share", 0.17),
    ("/usr/lib/python3/dist-packages", 0.10),
    ("/usr/bin", 0.07),
]

MEDIA = {
    "oci": dict(manifest="application/vnd.oci.image.manifest.v1+json",
                config="application/vnd.oci.image.config.v1+json",
                layer="application/vnd.oci.image.layer.v1.tar+gzip"),
    "docker": dict(manifest="application/vnd.docker.distribution.manifest.v2+json",
                   config="application/vnd.docker.container.image.v1+json",
                   layer="application/vnd.docker.image.rootfs.diff.tar.gzip"),
}
ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"])


class HashingWriter(io.RawIOBase):
    """A write-only stream that hashes and counts what passes through to `out`."""

    def __init__(self, out):
        self.out, self.sha, self.size = out, hashlib.sha256(), 0

    def writable(self):
        return True

    def write(self, b):
        self.sha.update(b)
        self.size += len(b)
        self.out.write(b)
        return len(b)


def select(root, budget):
    """Sorted walk of `root`: (host path, path in image, kind) until `budget` bytes."""
    picked, used = [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = dirpath.lstrip("/")
        picked.append((dirpath, rel_dir, "dir"))
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            host = os.path.join(dirpath, name)
            try:
                st = os.lstat(host)
            except OSError:
                continue
            rel = os.path.join(rel_dir, name)
            if stat.S_ISLNK(st.st_mode):
                picked.append((host, rel, "link"))
            elif stat.S_ISREG(st.st_mode) and st.st_size <= MAX_FILE and os.access(host, os.R_OK):
                picked.append((host, rel, "file"))
                used += st.st_size
                if used >= budget:
                    return picked, used
        # Symlinked directories were listed as links above; do not descend into them.
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return picked, used


def parents(rel):
    parts = rel.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def build_layer(entries, workdir, index):
    path = os.path.join(workdir, f"layer{index}.tar.gz")
    files = 0
    with open(path, "wb") as raw:
        blob = HashingWriter(raw)
        with gzip.GzipFile(fileobj=blob, mode="wb", compresslevel=6, mtime=0) as gz:
            diff = HashingWriter(gz)
            with tarfile.open(fileobj=diff, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                seen = set()

                def add_dir(rel):
                    if rel in seen or not rel:
                        return
                    seen.add(rel)
                    ti = tarfile.TarInfo(rel)
                    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, MTIME
                    tar.addfile(ti)

                for host, rel, kind in entries:
                    for p in parents(rel):
                        add_dir(p)
                    if kind == "dir":
                        add_dir(rel)
                        continue
                    ti = tarfile.TarInfo(rel)
                    ti.mtime = MTIME
                    if kind == "link":
                        ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, os.readlink(host), 0o777
                        tar.addfile(ti)
                        continue
                    try:
                        with open(host, "rb") as f:
                            data = f.read()
                    except OSError:
                        continue
                    ti.size = len(data)
                    ti.mode = 0o755 if os.stat(host).st_mode & 0o111 else 0o644
                    tar.addfile(ti, io.BytesIO(data))
                    files += 1
    return dict(path=path, digest="sha256:" + blob.sha.hexdigest(), size=blob.size,
                diff_id="sha256:" + diff.sha.hexdigest(), diff_size=diff.size, files=files)


def request(registry, method, url, data=None, headers=None):
    if not url.startswith("http"):
        url = f"http://{registry}{url}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def push_blob(registry, repo, digest, size, path=None, data=None):
    st, _, _ = request(registry, "HEAD", f"/v2/{repo}/blobs/{digest}")
    if st == 200:
        return
    st, h, body = request(registry, "POST", f"/v2/{repo}/blobs/uploads/")
    if st != 202:
        sys.exit(f"make_big_image: starting the upload of {digest} to {repo}: HTTP {st} {body[:200]!r}")
    loc = h["Location"]
    loc += ("&" if "?" in loc else "?") + "digest=" + digest
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
    if path:
        with open(path, "rb") as f:
            st, _, body = request(registry, "PUT", loc, f, headers)
    else:
        st, _, body = request(registry, "PUT", loc, data, headers)
    if st != 201:
        sys.exit(f"make_big_image: uploading {digest} to {repo}: HTTP {st} {body[:200]!r}")


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", required=True, help="HOST:PORT of a plain-HTTP v2 registry")
    ap.add_argument("--repo", default="bench/big")
    ap.add_argument("--tag", default="1")
    ap.add_argument("--target-mb", type=float, default=200, help="uncompressed size to aim for (MB)")
    ap.add_argument("--format", choices=["oci", "docker"], default="oci")
    ap.add_argument("--summary", help="also write the JSON summary here")
    args = ap.parse_args()

    st, _, body = request(args.registry, "GET", "/v2/")
    if st != 200:
        sys.exit(f"make_big_image: registry {args.registry} answered HTTP {st} on /v2/")

    t0 = time.monotonic()
    target = int(args.target_mb * 1e6)
    layers = []
    with tempfile.TemporaryDirectory(prefix="bigimage-") as workdir:
        for i, (root, share) in enumerate(SOURCES):
            if not os.path.isdir(root):
                sys.exit(f"make_big_image: {root} is missing on this machine")
            entries, _ = select(root, int(target * share))
            layer = build_layer(entries, workdir, i)
            layer["source"] = root
            layers.append(layer)
            print(f"layer {i}: {root}: {layer['files']} files, {layer['diff_size'] / 1e6:.1f} MB, "
                  f"{layer['size'] / 1e6:.1f} MB gzip", file=sys.stderr)
        built_s = time.monotonic() - t0

        mt = MEDIA[args.format]
        config = canon({
            "architecture": "amd64", "os": "linux", "created": CREATED,
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                       "Cmd": ["/usr/bin/python3"]},
            "rootfs": {"type": "layers", "diff_ids": [l["diff_id"] for l in layers]},
            "history": [{"created": CREATED, "created_by": f"COPY {l['source']} (part)"} for l in layers],
        })
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        manifest = canon({
            "schemaVersion": 2, "mediaType": mt["manifest"],
            "config": {"mediaType": mt["config"], "size": len(config), "digest": config_digest},
            "layers": [{"mediaType": mt["layer"], "size": l["size"], "digest": l["digest"]} for l in layers],
        })
        manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()

        t1 = time.monotonic()
        for l in layers:
            push_blob(args.registry, args.repo, l["digest"], l["size"], path=l["path"])
        push_blob(args.registry, args.repo, config_digest, len(config), data=config)
        st, _, body = request(args.registry, "PUT", f"/v2/{args.repo}/manifests/{args.tag}", manifest,
                              {"Content-Type": mt["manifest"]})
        if st != 201:
            sys.exit(f"make_big_image: manifest {args.repo}:{args.tag}: HTTP {st} {body[:300]!r}")
        st, h, _ = request(args.registry, "HEAD", f"/v2/{args.repo}/manifests/{args.tag}",
                           headers={"Accept": ACCEPT})
        if st != 200 or h.get("Docker-Content-Digest") != manifest_digest:
            sys.exit(f"make_big_image: registry serves {h.get('Docker-Content-Digest')} for "
                     f"{args.repo}:{args.tag}, expected {manifest_digest}")
        pushed_s = time.monotonic() - t1

    for l in layers:
        del l["path"]
    summary = {
        "reference": f"{args.registry}/{args.repo}:{args.tag}",
        "digest": manifest_digest,
        "format": args.format,
        "layers": layers,
        "files": sum(l["files"] for l in layers),
        "compressed_bytes": sum(l["size"] for l in layers) + len(config),
        "uncompressed_bytes": sum(l["diff_size"] for l in layers),
        "build_seconds": round(built_s, 2),
        "push_seconds": round(pushed_s, 2),
    }
    text = json.dumps(summary, indent=2)
    if args.summary:
        with open(args.summary, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
