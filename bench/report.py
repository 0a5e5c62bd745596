#!/usr/bin/python3
"""Side-by-side table of crio-bench results: report.py pull|pods|containers RESULTS_DIR

pull: RESULTS_DIR holds image.json (make_big_image.py's summary), machine.json, one
crio-bench pull JSON per daemon (crio.json, containerd.json) and optionally
image-status-<daemon>.json and list-images-<daemon>.json.
pods: RESULTS_DIR holds machine.json and, per daemon, run-pod-seq-<daemon>.json,
run-pod-par-<daemon>.json and pods-memory-<daemon>.json (pods.sh writes them).
containers: machine.json and, per daemon, run-container-seq-, run-container-par-,
exec-sync-seq-, exec-sync-par- and containers-memory-<daemon>.json (containers.sh
writes them); prints the latencies (median, p95, both ratios) and then the rest.
Prints Markdown tables."""
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


def pod_latency_rows(r, label):
    """RunPodSandbox / StopPodSandbox / RemovePodSandbox median and p95 of one run-pod result."""
    rows = {}
    ops = r.get("operations", {})
    for op, name in [("run", "RunPodSandbox"), ("stop", "StopPodSandbox"), ("remove", "RemovePodSandbox")]:
        s = ops.get(op, {})
        if s.get("count"):
            rows[f"{name}, {label}, median (ms)"] = s["median"]
            rows[f"{name}, {label}, p95 (ms)"] = s["p95"]
    rnd = ops.get("round", {})
    if rnd.get("count"):
        rows[f"one round of {label} (all started to all answered), median (ms)"] = rnd["median"]
    cpu = (r.get("daemon") or {}).get("cpu_ms", {})
    if cpu.get("count"):
        # /proc counts in 10 ms ticks: the mean over the rounds resolves better than a median.
        per = cpu["mean"] / max(1, r.get("options", {}).get("parallel", 1))
        rows[f"daemon CPU per RunPodSandbox, {label}, mean (ms)"] = per
    run = ops.get("run", {})
    rows[f"pods {label}: recorded / failed"] = f"{run.get('count', 0)} / {run.get('errors', 0)}"
    return rows


def pod_memory_rows(r):
    m = r.get("memory") or {}
    rows = {}
    n = m.get("pods_created", 0)
    idle, full = m.get("idle", {}), m.get("with_pods", {})
    if "vm_rss_mib" in idle:
        rows["daemon VmRSS idle, before the pods (MiB)"] = idle["vm_rss_mib"]
    if "vm_rss_mib" in full:
        rows[f"daemon VmRSS with {n} pods (MiB)"] = full["vm_rss_mib"]
    after = m.get("after_remove", {})
    if "vm_rss_mib" in after:
        rows["daemon VmRSS after removing them (MiB)"] = after["vm_rss_mib"]
    procs = full.get("processes", {})
    if "count" in procs:
        rows[f"per-pod processes with {n} pods (count)"] = str(procs["count"]) + "".join(
            f" ({v['count']} {c})" for c, v in procs.get("by_comm", {}).items())
        rows[f"their PSS, total (MiB)"] = procs["pss_mib"]
    per = m.get("per_pod_kib", {})
    if per:
        rows["per pod: daemon growth (KiB)"] = per["daemon_rss"]
        rows["per pod: processes' PSS (KiB)"] = per["processes_pss"]
        rows["per pod: total (KiB)"] = per["total"]
    run = r.get("operations", {}).get("run", {})
    if run.get("count"):
        rows[f"RunPodSandbox while filling up to {n}, median (ms)"] = run["median"]
    return rows


def pods_main(res):
    names, rows, results = [], {}, {}
    for n in DAEMONS:
        rows[n] = {}
        seq = load(os.path.join(res, f"run-pod-seq-{n}.json"))
        par = load(os.path.join(res, f"run-pod-par-{n}.json"))
        mem = load(os.path.join(res, f"pods-memory-{n}.json"))
        results[n] = [x for x in (seq, par, mem) if x]
        if seq:
            rows[n].update(pod_latency_rows(seq, "sequential"))
            d = seq.get("daemon") or {}
            if "rss_start_mib" in d:
                rows[n]["daemon VmRSS at start, fresh (MiB)"] = d["rss_start_mib"]
        if par:
            rows[n].update(pod_latency_rows(par, f"{par['options']['parallel']} at once"))
        if mem:
            rows[n].update(pod_memory_rows(mem))
        first = (seq or {}).get("first_pod") or (mem or {}).get("first_pod")
        if first:
            rows[n]["first pod: state, IP"] = first.get("error") or f"{first.get('state')}, {first.get('ip') or 'no IP'}"
        left = load(os.path.join(res, f"leftovers-{n}.json"))
        if left:
            rows[n]["left after the last RemovePodSandbox: mounts / IP leases / bridge ports"] = (
                f"{left['mounts']} / {left['ip_leases']} / {left['bridge_ports']}")
    for n in DAEMONS:
        for k in rows[n]:
            if k not in names:
                names.append(k)
    for n in DAEMONS:
        for r in results[n]:
            rt = r.get("runtime", {})
            o = r.get("options", {})
            if r["scenario"] == "pods-memory":
                what = f"{o.get('pods')} pods held, created {o.get('parallel')} at a time"
            else:
                what = f"{o.get('runs')} rounds of {o.get('parallel')} pods after {o.get('warmup')} warm-up"
            print(f"{n} {r['scenario']}: {rt.get('name', '?')} {rt.get('version', rt.get('error', ''))}, {what}"
                  + (f"; ABORTED: {r['aborted']}" if r.get("aborted") else ""))
            for op, s in r.get("operations", {}).items():
                for msg in s.get("error_messages", []):
                    print(f"  {n} {r['scenario']} {op} error: {msg}")
    m = load(os.path.join(res, "machine.json"))
    if m:
        print(f"machine: {m.get('cpus')} CPUs, kernel {m.get('kernel')}, load average at start/end: "
              + " / ".join(" ".join(l) for l in m.get("loadavg", [])))
    print_table(names, rows)


RUN = "pod + container to running (RunPodSandbox+CreateContainer+StartContainer)"
TEARDOWN = "stop + remove (StopContainer 0s+RemoveContainer+StopPodSandbox+RemovePodSandbox)"
CALLS = [("run-pod", "RunPodSandbox"), ("create", "CreateContainer"), ("start", "StartContainer"),
         ("stop-container", "StopContainer 0s"), ("remove-container", "RemoveContainer"),
         ("stop-pod", "StopPodSandbox"), ("remove-pod", "RemovePodSandbox")]


def container_latency(r, label):
    """Latency figure -> series (median, p95, count) of one run-container result."""
    rows = {}
    ops = r.get("operations", {})
    for op, name in [("run", RUN), ("teardown", TEARDOWN)]:
        if ops.get(op, {}).get("count"):
            rows[f"{name}, {label}"] = ops[op]
    for op, name in CALLS:
        if ops.get(op, {}).get("count"):
            rows[f"  of which {name}, {label}"] = ops[op]
    if ops.get("round", {}).get("count"):
        rows[f"one round of {label} (all started to all running)"] = ops["round"]
    return rows


def container_counts(r, label):
    rows = {}
    ops = r.get("operations", {})
    cpu = (r.get("daemon") or {}).get("cpu_ms", {})
    if cpu.get("count"):
        # /proc counts in 10 ms ticks: the mean over the rounds resolves better than a median.
        per = cpu["mean"] / max(1, r.get("options", {}).get("parallel", 1))
        rows[f"daemon CPU per pod + container start, {label}, mean (ms)"] = per
    run, down = ops.get("run", {}), ops.get("teardown", {})
    rows[f"containers {label}: started / failed, torn down / failed"] = (
        f"{run.get('count', 0)} / {run.get('errors', 0)}, {down.get('count', 0)} / {down.get('errors', 0)}")
    return rows


def container_memory_rows(r):
    m = r.get("memory") or {}
    rows = {}
    n = m.get("containers_created", 0)
    idle, full = m.get("idle", {}), m.get("with_containers", {})
    if "vm_rss_mib" in idle:
        rows["daemon VmRSS idle, image pulled (MiB)"] = idle["vm_rss_mib"]
    if "vm_rss_mib" in full:
        rows[f"daemon VmRSS with {n} running containers (MiB)"] = full["vm_rss_mib"]
    after = m.get("after_remove", {})
    if "vm_rss_mib" in after:
        rows["daemon VmRSS after removing them (MiB)"] = after["vm_rss_mib"]
    procs = full.get("processes", {})
    if "count" in procs:
        rows[f"per-container runtime processes with {n} (count)"] = str(procs["count"]) + "".join(
            f" ({v['count']} {c})" for c, v in procs.get("by_comm", {}).items())
        rows["their PSS, total (MiB)"] = procs["pss_mib"]
    per = m.get("per_container_kib", {})
    if per:
        rows["per container: daemon growth (KiB)"] = per["daemon_rss"]
        rows["per container: runtime processes' PSS (KiB)"] = per["processes_pss"]
        rows["per container: total, daemon + runtime processes (KiB)"] = per["total"]
    return rows


def containers_main(res):
    lat, other, results = {}, {}, {}
    for n in DAEMONS:
        lat[n], other[n] = {}, {}
        seq = load(os.path.join(res, f"run-container-seq-{n}.json"))
        par = load(os.path.join(res, f"run-container-par-{n}.json"))
        # exec-sync-<daemon>.json: results of the runs before the parallel ExecSync.
        exs = load(os.path.join(res, f"exec-sync-seq-{n}.json")) or load(os.path.join(res, f"exec-sync-{n}.json"))
        exp = load(os.path.join(res, f"exec-sync-par-{n}.json"))
        mem = load(os.path.join(res, f"containers-memory-{n}.json"))
        results[n] = [x for x in (seq, par, exs, exp, mem) if x]
        if seq:
            lat[n].update(container_latency(seq, "sequential"))
        if par:
            lat[n].update(container_latency(par, f"{par['options']['parallel']} at once"))
        if seq:
            other[n].update(container_counts(seq, "sequential"))
        if par:
            other[n].update(container_counts(par, f"{par['options']['parallel']} at once"))
        for ex, label in [(exs, "sequential"), (exp, None)]:
            if not ex:
                continue
            p = ex.get("options", {}).get("parallel", 1)
            label = label or f"{p} at once in {p} containers"
            s = ex.get("operations", {}).get("exec", {})
            if s.get("count"):
                lat[n][f"ExecSync `true`, {label}"] = s
            other[n][f"ExecSync {label}: recorded / failed"] = f"{s.get('count', 0)} / {s.get('errors', 0)}"
        if mem:
            s = mem.get("operations", {}).get("run", {})
            if s.get("count"):
                c = (mem.get("memory") or {}).get("containers_created", 0)
                lat[n][f"{RUN}, while filling up to {c}"] = s
        if mem:
            other[n].update(container_memory_rows(mem))
        first = next((x.get("first_container") for x in results[n] if x.get("first_container")), None)
        if first:
            other[n]["first container: state after StartContainer"] = first.get("error") or first.get("state")
        left = load(os.path.join(res, f"leftovers-{n}.json"))
        if left:
            other[n]["left after the last removal: mounts / IP leases / bridge ports"] = (
                f"{left['mounts']} / {left['ip_leases']} / {left['bridge_ports']}")
    for n in DAEMONS:
        for r in results[n]:
            rt = r.get("runtime", {})
            o = r.get("options", {})
            if r["scenario"] == "containers-memory":
                what = f"{o.get('pods')} containers held"
            else:
                what = f"{o.get('runs')} rounds of {o.get('parallel')} after {o.get('warmup')} warm-up"
            print(f"{n} {r['scenario']}: {rt.get('name', '?')} {rt.get('version', rt.get('error', ''))}, {what}"
                  + (f"; ABORTED: {r['aborted']}" if r.get("aborted") else ""))
            for op, s in r.get("operations", {}).items():
                for msg in s.get("error_messages", []):
                    print(f"  {n} {r['scenario']} {op} error: {msg}")
    m = load(os.path.join(res, "machine.json"))
    if m:
        print(f"machine: {m.get('cpus')} CPUs, kernel {m.get('kernel')}, load average at start/end: "
              + " / ".join(" ".join(l) for l in m.get("loadavg", [])))
    print_latency_table(keys_of(lat), lat)
    print_table(keys_of(other), other)


def keys_of(rows):
    names = []
    for n in DAEMONS:
        for k in rows[n]:
            if k not in names:
                names.append(k)
    return names


def ratio(a, b):
    # A ratio of a growth that is ~0 or negative (RSS noise) means nothing.
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0 and b > 0:
        return f"{a / b:.2f}" if a / b >= 0.1 else f"{a / b:.2g}"
    return ""


def print_latency_table(names, rows):
    """Latencies: median and p95 of each daemon, and both ratios, side by side."""
    print()
    print("| latency (ms) | crio median | crio p95 | containerd median | containerd p95 "
          "| crio/containerd median | crio/containerd p95 | samples crio / containerd |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for k in names:
        a, b = rows["crio"].get(k, {}), rows["containerd"].get(k, {})
        cells = []
        for s in (a, b):
            cells += [fmt(s["median"]), fmt(s["p95"])] if s.get("count") else ["–", "–"]
        cells += [ratio(a.get("median"), b.get("median")), ratio(a.get("p95"), b.get("p95"))]
        cells.append(f"{a.get('count', 0)} / {b.get('count', 0)}")
        print(f"| {k} | " + " | ".join(cells) + " |")


def print_table(names, rows):
    print()
    print("| figure | crio | containerd | crio/containerd |")
    print("| --- | ---: | ---: | ---: |")
    for k in names:
        a, b = rows["crio"].get(k), rows["containerd"].get(k)
        print(f"| {k} | {fmt(a) if a is not None else '–'} | {fmt(b) if b is not None else '–'} | {ratio(a, b)} |")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("pull", "pods", "containers"):
        sys.exit(__doc__)
    res = sys.argv[2]
    if sys.argv[1] == "pods":
        return pods_main(res)
    if sys.argv[1] == "containers":
        return containers_main(res)
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
    print_table(names, rows)


if __name__ == "__main__":
    main()
