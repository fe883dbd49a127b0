#!/usr/bin/env python3
"""Turns the JSON reports of `scripts/bench-peers` into bench/RESULTS.md and bench/results.svg.

Usage: bench-peers-report.py RAW_DIR OUT_DIR. Standard library only.
"""

import datetime
import glob
import json
import os
import statistics
import sys

PHASE_NAMES = {"put": "PutItem", "get": "GetItem", "query": "Query (10 items)"}


def load(path):
    with open(path) as f:
        return json.load(f)


def by_label(report):
    return {e["label"]: {p["phase"]: p for p in e["phases"]} for e in report["endpoints"]}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}"


def collect(rounds):
    """{label: {phase: {metric: [value per round]}}}"""
    out = {}
    for report in rounds:
        for label, phases in by_label(report).items():
            for phase, p in phases.items():
                m = out.setdefault(label, {}).setdefault(phase, {})
                m.setdefault("ops", []).append(p["ops_per_sec"])
                m.setdefault("p50", []).append(p["latency_ms"]["p50"])
                m.setdefault("p99", []).append(p["latency_ms"]["p99"])
                m.setdefault("cpu", []).append(p["server_cpu_us_per_op"])
                m.setdefault("errors", []).append(p["error_count"])
    return out


def svg_chart(data, labels, phases, path):
    """Two grouped bar charts: ops/s and server CPU µs per op (medians)."""
    colors = ["#2b6cb0", "#dd6b20", "#718096", "#38a169"]
    width, height, margin = 760, 300, 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{2 * height}" '
             'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{2 * height}" fill="white"/>']
    for row, (metric, title) in enumerate([("ops", "operations per second (median)"),
                                           ("cpu", "server CPU µs per operation (median)")]):
        top = row * height
        values = [median(data.get(l, {}).get(ph, {}).get(metric, [])) or 0
                  for ph in phases for l in labels]
        top_value = max(values + [1])
        plot_h = height - 2 * margin
        group_w = (width - 2 * margin) / max(len(phases), 1)
        bar_w = group_w * 0.8 / max(len(labels), 1)
        parts.append(f'<text x="{margin}" y="{top + 20}" font-size="14">{title}</text>')
        parts.append(f'<line x1="{margin}" y1="{top + height - margin}" x2="{width - margin}" '
                     f'y2="{top + height - margin}" stroke="black"/>')
        for gi, ph in enumerate(phases):
            gx = margin + gi * group_w + group_w * 0.1
            parts.append(f'<text x="{gx + group_w * 0.4:.0f}" y="{top + height - margin + 16}" '
                         f'text-anchor="middle">{PHASE_NAMES.get(ph, ph)}</text>')
            for li, label in enumerate(labels):
                v = median(data.get(label, {}).get(ph, {}).get(metric, [])) or 0
                h = plot_h * v / top_value
                x = gx + li * bar_w
                y = top + height - margin - h
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" '
                             f'height="{h:.1f}" fill="{colors[li % len(colors)]}"/>')
                parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                             f'font-size="10">{v:,.0f}</text>')
        for li, label in enumerate(labels):
            lx = width - margin - 120
            ly = top + 20 + li * 15
            parts.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" '
                         f'fill="{colors[li % len(colors)]}"/>')
            parts.append(f'<text x="{lx + 14}" y="{ly}">{label}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    raw, out_dir = sys.argv[1], sys.argv[2]
    round_files = sorted(glob.glob(os.path.join(raw, "round-*.json")))
    rounds = [load(p) for p in round_files]
    if not rounds:
        sys.exit("bench-peers-report: no round-*.json")
    config = rounds[0]["config"]
    labels = [e["label"] for e in rounds[0]["endpoints"]]
    phases = config["phases"]
    data = collect(rounds)
    base = labels[0]
    versions = open(os.path.join(raw, "versions.txt")).read().strip().splitlines()

    md = []
    md.append("# sealdb side by side with dynalite and DynamoDB Local")
    md.append("")
    md.append("Written by `scripts/bench-peers` on "
              f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}. Do not edit by hand.")
    md.append("")
    for v in versions:
        md.append(f"- {v}")
    md.append(f"- workload: `sealdb bench`, {config['item_bytes']}-byte items, {config['preload']:,} "
              f"preloaded, {config['workers']} workers (one keep-alive connection each, SigV4 "
              f"signed), {config['duration_secs']:g} s per phase, {len(rounds)} rounds; in each "
              "round every phase runs against each server in turn (interleaved). Everything on "
              "loopback in a private network namespace; the load generator shares the 2 cores.")
    md.append("- sealdb: every page encrypted (SQLCipher), every acknowledged write fsynced "
              "(WAL, synchronous=FULL, group commit). dynalite keeps its data in memory, "
              "unencrypted. DynamoDB Local writes to disk (SQLite), unencrypted.")
    md.append("- CPU µs/op is the server process's user+system CPU time during the phase divided "
              "by its requests (from /proc/PID/stat). Figures are medians of the rounds; the "
              "per-round values follow in brackets.")
    md.append("")
    md.append("![ops/s and CPU per operation](results.svg)")
    md.append("")
    md.append("| phase | server | ops/s | p50 ms | p99 ms | CPU µs/op | errors |")
    md.append("|---|---|---:|---:|---:|---:|---:|")
    for ph in phases:
        for label in labels:
            m = data.get(label, {}).get(ph)
            if not m:
                continue
            per_round = ", ".join(fmt(v) for v in m["ops"])
            cpu_rounds = ", ".join(fmt(v, 1) for v in m["cpu"])
            md.append(f"| {PHASE_NAMES.get(ph, ph)} | {label} | {fmt(median(m['ops']))} "
                      f"[{per_round}] | {fmt(median(m['p50']), 2)} | {fmt(median(m['p99']), 2)} | "
                      f"{fmt(median(m['cpu']), 1)} [{cpu_rounds}] | {sum(m['errors'])} |")
    md.append("")
    md.append(f"## Ratios ({base} against each peer; above 1, {base} is ahead)")
    md.append("")
    md.append("| phase | versus | throughput × | less CPU per op × |")
    md.append("|---|---|---:|---:|")
    ratios = {}
    for ph in phases:
        mine = data.get(base, {}).get(ph)
        for other in labels[1:]:
            theirs = data.get(other, {}).get(ph)
            if not mine or not theirs:
                continue
            t = median(mine["ops"]) / median(theirs["ops"]) if median(theirs["ops"]) else None
            a, b = median(mine["cpu"]), median(theirs["cpu"])
            c = b / a if a and b else None
            ratios[(ph, other)] = t
            md.append(f"| {PHASE_NAMES.get(ph, ph)} | {other} | {fmt(t, 2)} | {fmt(c, 2)} |")
    md.append("")

    one = os.path.join(raw, "one-worker.json")
    one_p50 = None
    if os.path.exists(one):
        r = load(one)
        md.append("## One worker (latency without queueing)")
        md.append("")
        md.append("| phase | server | ops/s | p50 ms | p99 ms | CPU µs/op |")
        md.append("|---|---|---:|---:|---:|---:|")
        for label, phs in by_label(r).items():
            for ph, p in phs.items():
                if label == base and ph == "get":
                    one_p50 = p["latency_ms"]["p50"]
                md.append(f"| {PHASE_NAMES.get(ph, ph)} | {label} | {fmt(p['ops_per_sec'])} | "
                          f"{fmt(p['latency_ms']['p50'], 3)} | {fmt(p['latency_ms']['p99'], 3)} | "
                          f"{fmt(p['server_cpu_us_per_op'], 1)} |")
        md.append("")

    million = os.path.join(raw, "million.json")
    million_get = million_rss = million_disk = None
    if os.path.exists(million):
        r = load(million)
        p = by_label(r)[r["endpoints"][0]["label"]]["get"]
        million_get = p["ops_per_sec"]
        million_rss = p["server_peak_rss_bytes"]
        disk_file = os.path.join(raw, "million-data-dir-bytes.txt")
        if os.path.exists(disk_file):
            million_disk = int(open(disk_file).read().strip())
        md.append("## sealdb with 1,000,000 items")
        md.append("")
        md.append(f"GetItem {fmt(million_get)} ops/s (p50 {fmt(p['latency_ms']['p50'], 2)} ms, "
                  f"p99 {fmt(p['latency_ms']['p99'], 2)} ms, {fmt(p['server_cpu_us_per_op'], 1)} "
                  f"CPU µs/op); peak resident memory {fmt((million_rss or 0) / 2**20)} MB "
                  "(including the preload); data dir "
                  f"{fmt((million_disk or 0) / 2**20)} MB.")
        md.append("")

    def med(label, ph, metric):
        return median(data.get(label, {}).get(ph, {}).get(metric, []))

    md.append("## Targets of issue 14")
    md.append("")
    md.append("| target | measured | met |")
    md.append("|---|---|---|")

    def target(text, value, ok):
        md.append(f"| {text} | {value} | {'yes' if ok else 'no' if ok is not None else 'not measured'} |")

    get_cpu, put_cpu, q_cpu = med(base, "get", "cpu"), med(base, "put", "cpu"), med(base, "query", "cpu")
    target("GetItem CPU ≤ 30 µs/op", fmt(get_cpu, 1), None if get_cpu is None else get_cpu <= 30)
    target("PutItem CPU ≤ 45 µs/op", fmt(put_cpu, 1), None if put_cpu is None else put_cpu <= 45)
    if get_cpu and q_cpu:
        target("Query of 10 ≤ 4× GetItem CPU", f"{q_cpu / get_cpu:.2f}×", q_cpu / get_cpu <= 4)
    for ph in ("get", "put", "query"):
        t = ratios.get((ph, "dynalite"))
        target(f"{PHASE_NAMES[ph]} throughput ≥ 2× dynalite", fmt(t, 2) + "×" if t else "n/a",
               None if t is None else t >= 2)
    t = ratios.get(("put", "ddb-local"))
    target("PutItem throughput ≥ 15× DynamoDB Local", fmt(t, 2) + "×" if t else "n/a",
           None if t is None else t >= 15)
    worst_p99 = max((med(base, ph, "p99") or 0) for ph in phases)
    target(f"p99 < 5 ms at {config['workers']} workers (worst phase)", f"{worst_p99:.2f} ms", worst_p99 < 5)
    target("1 worker GetItem p50 < 0.3 ms", fmt(one_p50, 3) + " ms" if one_p50 else "n/a",
           None if one_p50 is None else one_p50 < 0.3)
    if million_get is not None:
        g = med(base, "get", "ops")
        target("1M items: GetItem within 20 % of 10k items", f"{million_get / g:.2f}× of {fmt(g)}",
               million_get >= 0.8 * g)
        target("1M items: resident memory < 300 MB", f"{(million_rss or 0) / 2**20:.0f} MB",
               (million_rss or 0) < 300 * 2**20)
        target("1M items: data dir < 1.5 GB", f"{(million_disk or 0) / 2**30:.2f} GiB",
               (million_disk or 0) < 1.5 * 2**30)
    else:
        target("1M items (RSS, data dir, GetItem ratio)", "run with MILLION=1", None)
    md.append("")
    with open(os.path.join(out_dir, "RESULTS.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    svg_chart(data, labels, phases, os.path.join(out_dir, "results.svg"))


if __name__ == "__main__":
    main()
