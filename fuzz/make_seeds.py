#!/usr/bin/env python3
"""Writes the hand-made seed corpora under fuzz/corpus/ (checked in; rerun after
editing). Each harness's README line says what its first byte selects."""
import io, json, os, struct, tarfile, zlib, hashlib

HERE = os.path.dirname(os.path.abspath(__file__))
D = "sha256:" + "a" * 64


def put(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def sel(b, text):
    return bytes([b]) + (text.encode() if isinstance(text, str) else text)


# reference: 0x30 | 0 parse_reference with default tag + qualified, 1 digest, 2 platform, 3 WWW-Authenticate
for i, r in enumerate(["busybox", "docker.io/library/busybox:1.36", "localhost:5000/a/b@" + D,
                       "quay.io/x/y:tag@" + D, "[::1]:5000/img:latest", "UPPER/case"]):
    put("reference", f"ref{i}", sel(0x10, r))
put("reference", "ref-qualified", sel(0x30, "mirror/library/busybox"))
put("reference", "digest", sel(1, D))
put("reference", "platform", sel(2, "linux/arm64/v8"))
put("reference", "auth", sel(3, 'Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"'))

# manifest: first byte picks the Content-Type
def desc(mt, d, extra=None):
    o = {"mediaType": mt, "digest": "sha256:" + d * 64, "size": 100}
    o.update(extra or {})
    return o
oci_index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    desc("application/vnd.oci.image.manifest.v1+json", "a", {"platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}),
    desc("application/vnd.oci.image.manifest.v1+json", "b", {"platform": {"os": "linux", "architecture": "amd64"}}),
    desc("application/vnd.oci.image.manifest.v1+json", "e", {"platform": {"os": "unknown", "architecture": "unknown"}})]}
oci_manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": desc("application/vnd.oci.image.config.v1+json", "c"),
                "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", "1"),
                           desc("application/vnd.oci.image.layer.v1.tar+zstd", "2"),
                           desc("application/vnd.oci.image.layer.v1.tar", "3")],
                "annotations": {"org.opencontainers.image.title": "x"}}
docker_manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                   "config": desc("application/vnd.docker.container.image.v1+json", "c"),
                   "layers": [desc("application/vnd.docker.image.rootfs.diff.tar.gzip", "1"),
                              desc("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "2", {"urls": ["https://x/y"]})]}
put("manifest", "oci-index", sel(0, json.dumps(oci_index)))
put("manifest", "oci-manifest", sel(1, json.dumps(oci_manifest)))
put("manifest", "docker-manifest", sel(3, json.dumps(docker_manifest)))
put("manifest", "docker-list", sel(4, json.dumps(dict(oci_index, mediaType="application/vnd.docker.distribution.manifest.list.v2+json"))))
put("manifest", "schema1", sel(5, json.dumps({"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []})))

# image_config
put("image_config", "oci", json.dumps({
    "created": "2024-01-01T00:00:00Z", "author": "me", "architecture": "amd64", "os": "linux",
    "config": {"User": "1000:1000", "Env": ["PATH=/usr/bin", "A=b"], "Entrypoint": ["/bin/sh"], "Cmd": ["-c", "true"],
               "WorkingDir": "/w", "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}},
               "Labels": {"a": "b"}, "StopSignal": "SIGTERM"},
    "rootfs": {"type": "layers", "diff_ids": [D]},
    "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "ADD x", "empty_layer": True}]}))
put("image_config", "minimal", '{"architecture":"arm","variant":"v7","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')

# registries_conf: even first byte registries.conf, odd registries.d YAML
put("registries_conf", "v2", sel(0, '''unqualified-search-registries = ["docker.io", "quay.io"]
short-name-mode = "enforcing"
[aliases]
"busybox" = "docker.io/library/busybox"
[[registry]]
prefix = "example.com/foo"
location = "mirror.example.com/bar"
insecure = true
blocked = false
[[registry.mirror]]
location = "m1.example.com"
pull-from-mirror = "digest-only"
'''))
put("registries_conf", "v1", sel(0, '''[registries.search]
registries = ["docker.io"]
[registries.insecure]
registries = ["localhost:5000"]
[registries.block]
registries = ["evil.example"]
'''))
put("registries_conf", "registries-d", sel(1, '''default-docker:
  lookaside: file:///var/lib/containers/sigstore
  use-sigstore-attachments: true
docker:
  example.com/foo:
    lookaside: https://sigs.example.com/foo
    lookaside-staging: file:///tmp/staging
'''))

# policy
put("policy", "default", json.dumps({"default": [{"type": "insecureAcceptAnything"}],
    "transports": {"docker": {
        "example.com": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/etc/pki/key.gpg",
                         "signedIdentity": {"type": "matchRepository"}}],
        "example.com/sig": [{"type": "sigstoreSigned", "keyPath": "/etc/pki/cosign.pub",
                             "signedIdentity": {"type": "remapIdentity", "prefix": "example.com/sig", "signedPrefix": "other.com/sig"}}],
        "reject.example": [{"type": "reject"}]},
        "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}}}))
put("policy", "exact", json.dumps({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "AAAA",
    "signedIdentity": {"type": "exactReference", "dockerReference": "docker.io/library/busybox:latest"}}]}))

# sigstore_payload: bit 0 base64, bit 1 sigstore type
payload = {"critical": {"type": "atomic container signature", "image": {"docker-manifest-digest": D},
                        "identity": {"docker-reference": "example.com/foo:latest"}}, "optional": {"creator": "x"}}
put("sigstore_payload", "simple", sel(0, json.dumps(payload)))
cosign = json.loads(json.dumps(payload)); cosign["critical"]["type"] = "cosign container image signature"; cosign["optional"] = None
put("sigstore_payload", "cosign", sel(2, json.dumps(cosign)))
put("sigstore_payload", "base64", sel(1, "TUVVQ0lRRGhiVUE9PQ=="))

# crio_conf
put("crio_conf", "full", '''[crio]
root = "/var/lib/containers/storage"
runroot = "/run/containers/storage"
storage_driver = "overlay"
storage_option = ["overlay.mountopt=nodev"]
log_dir = "/var/log/crio/pods"
[crio.api]
listen = "/var/run/crio/crio.sock"
stream_port = "0"
grpc_max_send_msg_size = 83886080
[crio.runtime]
default_runtime = "runc"
conmon_cgroup = "pod"
cgroup_manager = "cgroupfs"
default_capabilities = ["CHOWN", "KILL"]
default_ulimits = ["nofile=1024:2048"]
pids_limit = 1024
log_size_max = -1
[crio.runtime.runtimes.runc]
runtime_path = "/usr/sbin/runc"
runtime_type = "oci"
runtime_root = "/run/runc"
allowed_annotations = ["io.kubernetes.cri-o.Devices"]
[crio.runtime.workloads.management]
activation_annotation = "target.workload.openshift.io/management"
annotation_prefix = "resources.workload.openshift.io"
[crio.runtime.workloads.management.resources]
cpushares = 512
[crio.image]
pause_image = "registry.k8s.io/pause:3.9"
signature_policy = ""
[crio.network]
network_dir = "/etc/cni/net.d/"
plugin_dirs = ["/usr/lib/cni"]
[crio.metrics]
enable_metrics = true
metrics_port = 9090
''')
put("crio_conf", "small", '[crio.runtime]\nlog_level = "debug"\nstop_timeout = "30s"\n')

# storage_conf
put("storage_conf", "default", '''[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
[storage.options]
additionalimagestores = []
[storage.options.overlay]
mountopt = "nodev,metacopy=on"
''')


# unpack_tar: ordinary and hostile layers
def tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.type = e.get("type", tarfile.REGTYPE)
            ti.mode = e.get("mode", 0o644)
            ti.uid = e.get("uid", 0)
            ti.mtime = 1700000000
            ti.linkname = e.get("link", "")
            ti.pax_headers = e.get("pax", {})
            data = e.get("data", b"")
            ti.size = len(data) if ti.type == tarfile.REGTYPE else 0
            t.addfile(ti, io.BytesIO(data) if ti.type == tarfile.REGTYPE else None)
    return buf.getvalue()
put("unpack_tar", "plain", tar([{"name": "./", "type": tarfile.DIRTYPE, "mode": 0o755},
                                {"name": "etc/", "type": tarfile.DIRTYPE, "mode": 0o755},
                                {"name": "etc/passwd", "data": b"root:x:0:0::/root:/bin/sh\n"},
                                {"name": "bin/sh", "type": tarfile.SYMTYPE, "link": "busybox"},
                                {"name": "bin/busybox", "data": b"\x7fELF", "mode": 0o4755},
                                {"name": "bin/ls", "type": tarfile.LNKTYPE, "link": "bin/busybox"},
                                {"name": "dev/null", "type": tarfile.CHRTYPE, "mode": 0o666},
                                {"name": "fifo", "type": tarfile.FIFOTYPE},
                                {"name": "x", "data": b"x", "pax": {"SCHILY.xattr.user.k": "v"}}]))
put("unpack_tar", "whiteouts", tar([{"name": "a/", "type": tarfile.DIRTYPE}, {"name": "a/.wh..wh..opq"},
                                    {"name": "a/.wh.b"}, {"name": ".wh..wh.plnk"},
                                    {"name": "c", "data": b"1", "pax": {"SCHILY.xattr.trusted.overlay.opaque": "y"}}]))
put("unpack_tar", "escapes", tar([{"name": "up", "type": tarfile.SYMTYPE, "link": "../.."},
                                  {"name": "up/canary", "data": b"x"},
                                  {"name": "abs", "type": tarfile.SYMTYPE, "link": "/"},
                                  {"name": "abs/scratch/x", "data": b"x"},
                                  {"name": "../x", "data": b"x"},
                                  {"name": "/etc/x", "data": b"x"},
                                  {"name": "hl", "type": tarfile.LNKTYPE, "link": "abs/canary"},
                                  {"name": "d", "type": tarfile.DIRTYPE}, {"name": "d", "type": tarfile.SYMTYPE, "link": "/"},
                                  {"name": "d/y", "data": b"y"}]))

# cni: 0/1 result, 2 conflist (bit 2: .conf), 3 quantity
put("cni", "result", sel(0, json.dumps({"cniVersion": "1.0.0",
    "interfaces": [{"name": "cni0", "mac": "aa:bb:cc:dd:ee:ff"}, {"name": "eth0", "mac": "00:11:22:33:44:55", "sandbox": "/var/run/netns/x"}],
    "ips": [{"address": "10.88.0.5/16", "gateway": "10.88.0.1", "interface": 1}, {"address": "fd00::5/64", "interface": 1}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.88.0.1"}],
    "dns": {"nameservers": ["10.0.0.10"], "domain": "cluster.local", "search": ["a"], "options": ["ndots:5"]}})))
put("cni", "result-020", sel(1, json.dumps({"cniVersion": "0.2.0", "ip4": {"ip": "10.4.0.4/24", "gateway": "10.4.0.1",
    "routes": [{"dst": "0.0.0.0/0"}]}, "ip6": {"ip": "fd00::4/64"}, "dns": {}})))
put("cni", "conflist", sel(2, json.dumps({"cniVersion": "1.0.0", "name": "crio", "disableCheck": True, "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.85.0.0/16"}]]}},
    {"type": "portmap", "capabilities": {"portMappings": True}}]})))
put("cni", "conf", sel(6, json.dumps({"cniVersion": "0.4.0", "name": "one", "type": "bridge"})))
put("cni", "quantity", sel(3, "1.5Gi"))
put("cni", "quantity-milli", sel(3, "2500m"))

# hooks
put("hooks", "v1", json.dumps({"version": "1.0.0", "hook": {"path": "/usr/bin/hook", "args": ["hook", "a"], "env": ["A=b"], "timeout": 10},
    "when": {"annotations": {"^io\\.kubernetes\\..*$": "yes"}, "commands": [".*sh$"], "hasBindMounts": True, "always": False},
    "stages": ["prestart", "createRuntime", "poststop"]}))
put("hooks", "legacy", json.dumps({"hook": "/usr/bin/hook", "arguments": ["x"], "stages": ["prestart"], "cmds": ["^/bin/sh$"],
                                   "annotations": ["a=b"], "hasbindmounts": True}))


# spdy: SYN_STREAMs with zlib header blocks (one shared compressor, as on the wire), data, ping, goaway
DICT = None
def spdy_dictionary():
    src = open(os.path.join(HERE, "..", "crio", "stream", "spdy_dictionary.inc")).read()
    body = src[src.index("{") + 1:src.rindex("}")]
    vals = [int(v, 0) for v in body.replace("\n", " ").split(",") if v.strip()]
    return bytes(vals)

def control(t, flags, body):
    return struct.pack(">HHI", 0x8003, t, (flags << 24) | len(body)) + body

def headers_block(z, hs):
    raw = struct.pack(">I", len(hs))
    for k, v in hs:
        raw += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
    return z.compress(raw) + z.flush(zlib.Z_SYNC_FLUSH)

def data_frame(sid, flags, body):
    return struct.pack(">II", sid, (flags << 24) | len(body)) + body

def spdy_seed(streams):
    z = zlib.compressobj(zdict=spdy_dictionary())
    out = b""
    for sid, hs in streams:
        out += control(1, 0, struct.pack(">IIBB", sid, 0, 0, 0) + headers_block(z, hs))
    return out, z

try:
    s, z = spdy_seed([(1, [("streamtype", "error")]), (3, [("streamtype", "stdin")]), (5, [("streamtype", "stdout")])])
    s += data_frame(3, 0, b"hello") + data_frame(3, 1, b"") + control(6, 0, struct.pack(">I", 1))
    s += control(8, 0, struct.pack(">I", 5) + headers_block(z, [("x", "y")]))
    s += control(3, 0, struct.pack(">II", 5, 5)) + control(9, 0, struct.pack(">II", 3, 1000))
    put("spdy", "exec", s)
    s, z = spdy_seed([(1, [("streamtype", "data"), ("port", "80"), ("requestid", "0")])])
    put("spdy", "portforward", s + data_frame(1, 0, b"GET / HTTP/1.0\r\n\r\n") + control(7, 0, struct.pack(">II", 1, 0)))
except (FileNotFoundError, ValueError):
    pass

# websocket: masked frames with channel bytes; first byte 0 attach tty v5, 1 attach v4, 2 port-forward
def ws(op, payload, fin=True, mask=b"\x01\x02\x03\x04"):
    h = bytes([(0x80 if fin else 0) | op])
    n = len(payload)
    h += bytes([0x80 | n]) if n < 126 else (bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else bytes([0x80 | 127]) + struct.pack(">Q", n))
    return h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
put("websocket", "attach-tty", sel(0, ws(2, b"\x00ls\n") + ws(2, b"\x04" + b'{"Width":80,"Height":24}') + ws(9, b"p")
                                   + ws(2, b"\x00a", fin=False) + ws(0, b"b") + ws(2, b"\xff\x00") + ws(8, b"\x03\xe8")))
put("websocket", "attach", sel(1, ws(2, b"\x00input") + ws(1, b"text") + ws(10, b"")))
put("websocket", "portforward", sel(2, ws(2, b"\x00GET /\r\n") + ws(2, b"\x02x") + ws(2, b"\x01e")))

# status_api
put("status_api", "info", "GET /info HTTP/1.1\r\nHost: crio\r\n\r\n")
put("status_api", "pipeline", "GET /containers/known HTTP/1.1\r\nHost: x\r\n\r\nPOST /pause/known HTTP/1.1\r\nHost: x\r\n"
    "Content-Length: 3\r\n\r\nabcGET /unpause/%41 HTTP/1.1\r\nHost: x\r\n\r\nGET /config HTTP/1.0\r\n\r\n")
put("status_api", "chunked", "POST /pause/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
