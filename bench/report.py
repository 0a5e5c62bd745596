#!/usr/bin/python3
"""Side-by-side table of crio-bench results: report.py pull RESULTS_DIR

RESULTS_DIR holds image.json (make_big_image.py's summary), machine.json, one
crio-bench pull JSON per daemon (crio.json, containerd.json) and optionally
image-status-<daemon>.json and list-images-<daemon>.json. Prints a Markdown table."""
import json
import os
import sys

DAEMONS = ["crio", "containerd"]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def pull_rows(image, r):
    """Figure name -> (value, unit-format) for one daemon's pull results."""
    ops = r.get("operations", {})
    pull = ops.get("pull", {})
    remove = ops.get("remove", {})
    d = r.get("daemon") or {}
    rows = {}
    if pull.get("count"):
        med, p95 = pull["median"] / 1000, pull["p95"] / 1000
        rows["pull wall, median (s)"] = med
        rows["pull wall, p95 (s)"] = p95
        rows["pull wall, min (s)"] = pull["min"] / 1000
        rows["MB/s compressed (median)"] = image["compressed_bytes"] / 1e6 / med
        rows["MB/s uncompressed (median)"] = image["uncompressed_bytes"] / 1e6 / med
    cpu = d.get("cpu_ms", {})
    if cpu.get("count"):
        rows["daemon CPU per pull, median (s)"] = cpu["median"] / 1000
        if pull.get("count"):
            rows["cores busy during pull (CPU/wall)"] = cpu["median"] / pull["median"]
    peak = d.get("peak_rss", {})
    if peak.get("count"):
        rows["daemon peak RSS during pull, median (MiB)"] = peak["median"]
        rows["daemon peak RSS during pull, max (MiB)"] = peak["max"]
    after = d.get("rss_after", {})
    if after.get("count"):
        rows["daemon RSS right after pull, median (MiB)"] = after["median"]
    if "rss_start_mib" in d:
        rows["daemon RSS at start, idle (MiB)"] = d["rss_start_mib"]
    if "rss_end_mib" in d:
        rows["daemon RSS at end, image removed (MiB)"] = d["rss_end_mib"]
    if remove.get("count"):
        rows["RemoveImage, median (ms)"] = remove["median"]
    between = ops.get("between", {})
    if between.get("count"):
        rows["then until layers gone on disk, median (ms)"] = between["median"]
    rows["pulls recorded / failed"] = f"{pull.get('count', 0)} / {pull.get('errors', 0)}"
    return rows


def fmt(v):
    if isinstance(v, str):
        return v
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "pull":
        sys.exit(__doc__)
    res = sys.argv[2]
    image = load(os.path.join(res, "image.json"))
    if not image:
        sys.exit(f"report.py: no image.json in {res}")
    results = {n: load(os.path.join(res, f"{n}.json")) for n in DAEMONS}
    rows = {n: pull_rows(image, r) if r else {} for n, r in results.items()}
    for n in DAEMONS:
        for scenario, label in [("image-status", "ImageStatus"), ("list-images", "ListImages (1 image)")]:
            r = load(os.path.join(res, f"{scenario}-{n}.json"))
            s = (r or {}).get("operations", {}).get(scenario, {})
            if s.get("count"):
                rows[n][f"{label}, median (ms)"] = s["median"]
                rows[n][f"{label}, p95 (ms)"] = s["p95"]
    names = []
    for n in DAEMONS:
        for k in rows[n]:
            if k not in names:
                names.append(k)
    print(f"Image: {image['reference']} ({image['format']}), {len(image['layers'])} layers, "
          f"{image['files']} files, {image['compressed_bytes'] / 1e6:.1f} MB compressed, "
          f"{image['uncompressed_bytes'] / 1e6:.1f} MB uncompressed")
    for n in DAEMONS:
        r = results[n]
        if r:
            rt = r.get("runtime", {})
            runs = r.get("options", {})
            print(f"{n}: {rt.get('name', '?')} {rt.get('version', rt.get('error', ''))}, "
                  f"{runs.get('runs')} recorded pulls after {runs.get('warmup')} warm-up"
                  + (f"; ABORTED: {r['aborted']}" if r.get("aborted") else ""))
            for op, s in r.get("operations", {}).items():
                for m in s.get("error_messages", []):
                    print(f"  {n} {op} error: {m}")
    m = load(os.path.join(res, "machine.json"))
    if m:
        print(f"machine: {m.get('cpus')} CPUs, kernel {m.get('kernel')}, load average at start/end: "
              + " / ".join(" ".join(l) for l in m.get("loadavg", [])))
    print()
    print("| figure | crio | containerd | crio/containerd |")
    print("| --- | ---: | ---: | ---: |")
    for k in names:
        a, b = rows["crio"].get(k), rows["containerd"].get(k)
        ratio = ""
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
            ratio = f"{a / b:.2f}"
        print(f"| {k} | {fmt(a) if a is not None else '–'} | {fmt(b) if b is not None else '–'} | {ratio} |")


if __name__ == "__main__":
    main()
