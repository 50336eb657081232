#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""perf/run's last step: fold the benchmarks' raw outputs into perf/results/latest.json,
print the table and draw the PNG plots with gnuplot. Computes nothing that was not
measured in this run: every figure comes from the files given."""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

TARGETS = {
    "hot_path_ns_per_msg": 25.0,
    "flatness_spread": 0.20,
    "ratio_vs_testpmd": 0.5,
    "latency_p99_ns": 2000.0,
    "latency_p999_ns": 5000.0,
}


def die(msg):
    print(f"perf/report.py: {msg}", file=sys.stderr)
    sys.exit(2)


def load_jsonl(path):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                die(f"{path}:{n}: not JSON: {e}")
    return rows


def testpmd_rates(path):
    # "Rx-pps:  16916495" once per port per --stats-period; the first sample includes
    # start-up, so it is left out.
    rates = [int(m.group(1)) for m in re.finditer(r"Rx-pps:\s+(\d+)", open(path).read())]
    if not rates:
        die(f"{path}: no Rx-pps line from dpdk-testpmd")
    return rates[1:] if len(rates) > 1 else rates


def telemetry(path):
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        line = line.strip().lstrip("-> ").strip()
        if line.startswith("{"):
            try:
                out.update(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out.get("/aster/latency", {})


def spread(values):
    return (max(values) - min(values)) / min(values) if values and min(values) > 0 else None


def find(rows, subs, symbols, patterns, kind):
    for r in rows:
        if (r["subs"], r["symbols"], r["patterns"], r["kind"]) == (subs, symbols, patterns, kind):
            return r
    return None


def axis(rows, kind, vary, fixed):
    pts = [r for r in rows if r["kind"] == kind and r["subs"] == 64 and all(r[k] == v for k, v in fixed.items())]
    return sorted(pts, key=lambda r: r[vary])


def gnuplot(script, cwd):
    r = subprocess.run(["gnuplot"], input=script, text=True, cwd=cwd, capture_output=True)
    if r.returncode != 0:
        die(f"gnuplot failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")


def plots(out, rows, e2e, ceiling):
    kinds = ["exact", "prefix", "regex"]
    blocks = []

    def block(name, lines):
        blocks.append(f"${name} << EOD\n" + "\n".join(lines) + "\nEOD\n")

    for k in kinds:
        block(f"sym_{k}", [f'{r["symbols"]} {r["ns_per_msg"]:.2f}' for r in axis(rows, k, "symbols", {"patterns": 1000})])
        block(f"pat_{k}", [f'{r["patterns"]} {r["ns_per_msg"]:.2f}' for r in axis(rows, k, "patterns", {"symbols": 8000})])
    seen = {r["subs"]: r for r in rows
            if r["kind"] == "exact" and r["symbols"] == 8000 and r["patterns"] == max(1000, r["subs"])}
    # per delivery is meaningless where (almost) nothing is delivered
    block("subs", [f'{s} {r["ns_per_msg"]:.2f} ' + (f'{r["ns_per_delivery"]:.2f}' if r["deliveries_per_msg"] >= 0.01 else "NaN")
                   for s, r in sorted(seen.items())])
    script = "".join(blocks) + f"""
set terminal pngcairo size 1500,450 font ",10"
set output "hotpath.png"
set multiplot layout 1,3 title "Hot path per input message (aster-bench-hotpath, no PMD; lower is better)"
set logscale x
set grid
set key top left
set ylabel "ns per input message"
set yrange [0:*]
set xlabel "symbols (64 subscribers, 1000 patterns)"
plot $sym_exact w lp t "exact", $sym_prefix w lp t "prefix", $sym_regex w lp t "regex", {TARGETS['hot_path_ns_per_msg']} w l dt 2 t "target 25 ns"
set xlabel "patterns (64 subscribers, 8000 symbols)"
plot $pat_exact w lp t "exact", $pat_prefix w lp t "prefix", $pat_regex w lp t "regex", {TARGETS['hot_path_ns_per_msg']} w l dt 2 t "target 25 ns"
set xlabel "subscribers (8000 symbols, 1000 exact patterns)"
set ylabel "ns (log scale)"
set logscale y
set yrange [*:*]
plot $subs u 1:2 w lp t "per input message", $subs u 1:3 w lp t "per delivery"
unset multiplot
"""
    sat, fix = e2e["saturation"], e2e["fixed_load"]
    script2 = f"""
$rates << EOD
"testpmd io-fwd" {ceiling:.0f}
"aster e2e" {sat['pps']:.0f}
EOD
$lat << EOD
p50 {fix['latency_ns']['p50']:.0f} {sat['latency_ns']['p50']:.0f}
p99 {fix['latency_ns']['p99']:.0f} {sat['latency_ns']['p99']:.0f}
p99.9 {fix['latency_ns']['p999']:.0f} {sat['latency_ns']['p999']:.0f}
max {fix['latency_ns']['max']:.0f} {sat['latency_ns']['max']:.0f}
EOD
set terminal pngcairo size 1100,450 font ",10"
set output "e2e.png"
set multiplot layout 1,2
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.7 border -1
set boxwidth 0.9
set grid ytics
set logscale y
set title "Packets per second, one forwarding/RX core, {e2e['mean_frame_bytes']:.0f} B frames"
set ylabel "packets/s"
plot $rates u 2:xtic(1) notitle
set title "In-appliance latency, RX burst to TX burst (ns)"
set ylabel "ns"
set key top left
plot $lat u 2:xtic(1) t "fixed load {fix['offered_pps']:.0f} pps", $lat u 3 t "saturation", 2000 w l dt 2 t "p99 target 2 us", 5000 w l dt 3 t "p99.9 target 5 us"
unset multiplot
"""
    gnuplot(script, out)
    gnuplot(script2, out)


def markdown(path):
    """The tables of docs/performance.md, from a latest.json."""
    r = json.load(open(path))
    hp, e, c, lat, t = r["hot_path"], r["e2e"], r["ceiling"], r["latency_ns"], r["targets"]
    yes = lambda m: "**met**" if m else "**not met**"
    print("| figure | measured | target |")
    print("|---|---|---|")
    print(f"| hot path, 64 subscribers / 8 000 symbols / 1 000 exact patterns | {hp['ns_per_msg']:.1f} ns ({hp['cycles_per_msg']:.0f} cycles) per input message; {hp['ns_per_delivery']:.1f} ns per delivery ({hp['deliveries_per_msg']:.2f} deliveries per message); {hp['msgs_per_s_one_core'] / 1e6:.1f} M messages/s on one core | <= 25 ns: {yes(t['hot_path_ns_per_msg_le_25']['met'])} |")
    for k, v in hp["flatness"].items():
        axis_, kind = k.split("_")
        print(f"| spread over {axis_} ({kind} patterns) | {' / '.join(f'{x:.1f}' for x in v['ns_per_msg'])} ns: {v['spread'] * 100:.0f} % | <= 20 %: {yes(v['spread'] <= 0.2)} |")
    nf = hp.get("symbols_without_fanout")
    if nf:
        print(f"| spread over symbols with 1 subscriber (no fan-out; {' / '.join(str(y) for y in nf['symbols'])} symbols) | {' / '.join(f'{x:.1f}' for x in nf['ns_per_msg'])} ns: {nf['spread'] * 100:.0f} % | not a target point: the path without fan-out |")
    s = e["saturation"]
    print(f"| end to end, one RX core, saturation | {e['pps'] / 1e6:.3f} Mpps in, {e['msgs_per_s'] / 1e6:.2f} M messages/s, {e['deliveries_per_s'] / 1e6:.2f} M deliveries/s; RX core got {s['rx_cpu_share'] * 100:.0f} % of a CPU: {s['pps_per_rx_cpu_s'] / 1e6:.3f} Mpps, {s['msgs_per_rx_cpu_s'] / 1e6:.2f} M messages/s per second of RX-core CPU | |")
    print(f"| testpmd io-forward, net_null {c['frame_bytes']} B copy=1, one core | {c['testpmd_pps'] / 1e6:.2f} Mpps | ceiling |")
    print(f"| end to end / testpmd | {e['ratio_vs_testpmd']:.3f} (per RX-core CPU second: {e['ratio_vs_testpmd_per_rx_cpu_s']:.3f}) | >= 0.5: {yes(t['e2e_ge_half_testpmd']['met'])} |")
    if e.get("out_frames_per_s"):
        print(f"| frames sent by aster (not the target's measure) | {e['out_frames_per_s'] / 1e6:.2f} M/s, {e['out_frames_per_in_packet']:.1f} per input packet: {e['out_frames_ratio_vs_testpmd']:.3f} of testpmd's packet rate | |")
    f = e["fixed_load"]
    print(f"| latency at {f['offered_pps']:.0f} pps offered ({f['pps']:.0f} received): p50 / p99 / p99.9 / max | {lat['p50']:.0f} / {lat['p99']:.0f} / {lat['p999']:.0f} / {lat['max']:.0f} ns | p99 <= 2 us: {yes(t['latency_p99_le_2us']['met'])}; p99.9 <= 5 us: {yes(t['latency_p999_le_5us']['met'])} |")
    sl = lat["saturation"]
    print(f"| latency at saturation: p50 / p99 / p99.9 / max | {sl['p50']:.0f} / {sl['p99']:.0f} / {sl['p999']:.0f} / {sl['max']:.0f} ns | |")
    print()
    print("| subscribers | symbols | patterns | kind | ns/msg | cycles/msg | ns/delivery | deliveries/msg | preempted bursts |")
    print("|---|---|---|---|---|---|---|---|---|")
    for g in hp["grid"]:
        per_d = f"{g['ns_per_delivery']:.1f}" if g["deliveries_per_msg"] >= 0.01 else "–"
        print(f"| {g['subs']} | {g['symbols']} | {g['patterns']} | {g['kind']} | {g['ns_per_msg']:.1f} | {g['cycles_per_msg']:.0f} | {per_d} | {g['deliveries_per_msg']:.3f} | {g['raw']['preempted_bursts']} of {g['raw']['bursts']} |")
    ctl = r.get("control", {})
    if "rows" in ctl:
        print()
        print("| patterns | kind | apply: build ms | apply: in force ms | one-pattern change: in force ms (build, publish) |")
        print("|---|---|---|---|---|")
        for row in ctl["rows"]:
            print(f"| {row['patterns']} | {row['kind']} | {row['apply_build_ms']:.1f} | {row['apply_in_force_ms']:.1f} | {row['change_in_force_ms']:.1f} ({row['change_build_ms']:.1f}, {row['change_publish_ms']:.1f}) |")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--markdown":
        return markdown(sys.argv[2])
    ap = argparse.ArgumentParser()
    ap.add_argument("--hotpath", required=True)
    ap.add_argument("--e2e", required=True)
    ap.add_argument("--testpmd", required=True)
    ap.add_argument("--testpmd-frame", type=int, required=True)
    ap.add_argument("--telemetry", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--quick", type=int, required=True)
    ap.add_argument("--seconds", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    rows = load_jsonl(a.hotpath)
    try:
        e2e = json.load(open(a.e2e))
    except (OSError, json.JSONDecodeError) as e:
        die(f"{a.e2e}: {e}")
    head = find(rows, 64, 8000, 1000, "exact")
    if head is None:
        die(f"{a.hotpath}: no headline point (64 subscribers, 8000 symbols, 1000 exact patterns)")
    rates = testpmd_rates(a.testpmd)
    ceiling = statistics.median(rates)
    sat, fix = e2e["saturation"], e2e["fixed_load"]

    flat = {}
    for k in ("exact", "prefix", "regex"):
        s = [r["ns_per_msg"] for r in axis(rows, k, "symbols", {"patterns": 1000})]
        p = [r["ns_per_msg"] for r in axis(rows, k, "patterns", {"symbols": 8000})]
        if len(s) > 1:
            flat[f"symbols_{k}"] = {"ns_per_msg": s, "spread": spread(s)}
        if len(p) > 1:
            flat[f"patterns_{k}"] = {"ns_per_msg": p, "spread": spread(p)}
    worst = max((v["spread"] for v in flat.values()), default=None)
    # the symbols axis with one subscriber: the message path without fan-out, since the
    # 64-subscriber axis also changes how many deliveries a message makes
    nf = sorted((r for r in rows if r["subs"] == 1 and r["kind"] == "exact" and r["patterns"] == 1000),
                key=lambda r: r["symbols"])
    no_fanout = ({"symbols": [r["symbols"] for r in nf], "ns_per_msg": [r["ns_per_msg"] for r in nf],
                  "spread": spread([r["ns_per_msg"] for r in nf])} if len(nf) > 1 else None)

    control = {"skipped": "perf/control-latency not present or failed when perf/run ran"}
    if a.control != "none":
        try:
            control = json.load(open(a.control))
        except (OSError, json.JSONDecodeError) as e:
            control = {"skipped": f"{a.control}: {e}"}

    lat = fix["latency_ns"]
    ratio = sat["pps"] / ceiling if ceiling else None
    # frames aster sends: a burst's messages go out in one frame per subscriber that takes
    # any of them; testpmd's io-forward sends one packet per packet received
    out_fps = sat["latency_ns"]["frames"] / sat["seconds"] if sat["seconds"] else 0.0
    res = {
        "schema": 1,
        "generated_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quick": bool(a.quick),
        "suite_seconds": a.seconds,
        "machine": {
            "cpu": head["cpu"],
            "cpus": os.cpu_count(),
            "tsc_hz": head["tsc_hz"],
            "kernel": platform.release(),
            "load_avg_1m_at_end": os.getloadavg()[0],
            "hugepages": head["hugepages"],
            "dpdk": "22.11 (Debian)",
            "hyperscan": "5.4 (Debian)",
            "build": "build-perf, meson --buildtype=release -Db_lto=true (DPDK baseline -march=corei7)",
        },
        "parameters": {
            "feed": "bench_feed.h: ITCH 5.0 TotalView mix, Zipf(1.1) symbols, 1-16 messages per MoldUDP64 packet, one line per feed; subscriber's first pattern hits a Zipf-popular symbol, the rest are decoys",
            "hot_path": {"headline": {"subs": 64, "symbols": 8000, "patterns": 1000, "kind": "exact"},
                         "packets_per_loop": head["packets_per_loop"], "loops": head["loops"],
                         "statistic": "median over loops of the cycles spent in rx_packets+rx_flush"},
            "e2e": {k: e2e[k] for k in ("subs", "symbols", "patterns", "kind", "mean_frame_bytes", "msgs_per_packet", "rx_cpu", "tx_gen_cpu")},
            "ceiling": {"tool": "dpdk-testpmd", "forward_mode": "io", "vdev": f"net_null0,size={a.testpmd_frame},copy=1", "port_topology": "loop", "forwarding_cores": 1},
        },
        "hot_path": {
            "ns_per_msg": head["ns_per_msg"],
            "cycles_per_msg": head["cycles_per_msg"],
            "ns_per_delivery": head["ns_per_delivery"],
            "cycles_per_delivery": head["cycles_per_delivery"],
            "deliveries_per_msg": head["deliveries_per_msg"],
            "msgs_per_s_one_core": head["msgs_per_s"],
            "flatness": flat,
            "symbols_without_fanout": no_fanout,
            "grid": rows,
        },
        "e2e": {
            "pps": sat["pps"],
            "msgs_per_s": sat["msgs_per_s"],
            "deliveries_per_s": sat["deliveries_per_s"],
            "rx_cores": 1,
            "ratio_vs_testpmd": ratio,
            "ratio_vs_testpmd_per_rx_cpu_s": sat["pps_per_rx_cpu_s"] / ceiling if ceiling else None,
            "out_frames_per_s": out_fps,
            "out_frames_per_in_packet": out_fps / sat["pps"] if sat["pps"] else None,
            "out_frames_ratio_vs_testpmd": out_fps / ceiling if ceiling else None,
            "saturation": sat,
            "fixed_load": fix,
        },
        "ceiling": {"testpmd_pps": ceiling, "frame_bytes": a.testpmd_frame, "samples_pps": rates},
        "latency_ns": {
            "load": f"fixed offered load {fix['offered_pps']:.0f} pps (25 % of saturation)",
            "p50": lat["p50"], "p99": lat["p99"], "p999": lat["p999"], "max": lat["max"],
            "saturation": sat["latency_ns"],
            "live_telemetry_during_run": telemetry(a.telemetry),
        },
        "control": control,
    }
    res["targets"] = {
        "hot_path_ns_per_msg_le_25": {"measured": head["ns_per_msg"], "met": head["ns_per_msg"] <= TARGETS["hot_path_ns_per_msg"]},
        "flat_within_20_percent": {"measured_worst_spread": worst, "met": worst is not None and worst <= TARGETS["flatness_spread"]},
        "e2e_ge_half_testpmd": {"measured": ratio, "met": ratio is not None and ratio >= TARGETS["ratio_vs_testpmd"]},
        "latency_p99_le_2us": {"measured": lat["p99"], "met": lat["frames"] > 0 and lat["p99"] <= TARGETS["latency_p99_ns"]},
        "latency_p999_le_5us": {"measured": lat["p999"], "met": lat["frames"] > 0 and lat["p999"] <= TARGETS["latency_p999_ns"]},
    }
    os.makedirs(a.out, exist_ok=True)
    tmp = os.path.join(a.out, "latest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, os.path.join(a.out, "latest.json"))
    plots(a.out, rows, e2e, ceiling)

    print()
    print(f"{'figure':58} {'measured':>16}  target")
    def line(name, val, target="", met=None):
        mark = "" if met is None else ("  met" if met else "  NOT met")
        print(f"{name:58} {val:>16}  {target}{mark}")
    t = res["targets"]
    line("hot path, 64 subs / 8000 symbols / 1000 patterns: ns/msg", f"{head['ns_per_msg']:.1f}", "<= 25", t["hot_path_ns_per_msg_le_25"]["met"])
    line("  cycles/msg", f"{head['cycles_per_msg']:.0f}")
    line("  ns/delivery (deliveries/msg)", f"{head['ns_per_delivery']:.1f} ({head['deliveries_per_msg']:.2f})")
    line("  messages/s on one core", f"{head['msgs_per_s'] / 1e6:.1f} M")
    for k, v in flat.items():
        line(f"  spread over {k.replace('_', ' ')}", f"{v['spread'] * 100:.0f} %", "<= 20 %", v["spread"] <= TARGETS["flatness_spread"])
    if no_fanout:
        line("  spread over symbols, 1 subscriber (no fan-out)", f"{no_fanout['spread'] * 100:.0f} %")
    line("e2e input packets/s, one RX core (saturation)", f"{sat['pps'] / 1e6:.3f} M")
    line("  RX core's CPU share (kernel schedstat; machine shared)", f"{sat['rx_cpu_share'] * 100:.0f} %")
    line("  packets per second of RX-core CPU time", f"{sat['pps_per_rx_cpu_s'] / 1e6:.3f} M")
    line("  messages per second of RX-core CPU time", f"{sat['msgs_per_rx_cpu_s'] / 1e6:.2f} M")
    line("e2e messages/s", f"{sat['msgs_per_s'] / 1e6:.2f} M")
    line("e2e deliveries/s", f"{sat['deliveries_per_s'] / 1e6:.2f} M")
    line(f"testpmd io-forward, net_null {a.testpmd_frame} B copy=1, 1 core", f"{ceiling / 1e6:.2f} M")
    line("e2e / testpmd", f"{ratio:.3f}", ">= 0.5", t["e2e_ge_half_testpmd"]["met"])
    line("  (per second of RX-core CPU time) / testpmd", f"{sat['pps_per_rx_cpu_s'] / ceiling:.3f}")
    line("  frames sent/s (per input packet) / testpmd",
         f"{out_fps / 1e6:.2f} M ({out_fps / sat['pps']:.2f}) / {out_fps / ceiling:.3f}")
    line(f"latency at {fix['offered_pps']:.0f} pps: p50 ns", f"{lat['p50']:.0f}")
    line("  p99 ns", f"{lat['p99']:.0f}", "<= 2000", t["latency_p99_le_2us"]["met"])
    line("  p99.9 ns", f"{lat['p999']:.0f}", "<= 5000", t["latency_p999_le_5us"]["met"])
    line("  max ns", f"{lat['max']:.0f}")
    sl = sat["latency_ns"]
    line("latency at saturation: p50 / p99 / p99.9 ns", f"{sl['p50']:.0f} / {sl['p99']:.0f} / {sl['p999']:.0f}")
    line("control path", "see control" if "skipped" not in control else "not measured")
    line("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
