#!/usr/bin/python3
"""Drive live table changes through asterctl (tests/integration/test_control_live.sh,
perf/control-soak): a model of the table, changed one step at a time, either by writing
the model to a file for `asterctl apply -f` or by the imperative command that makes the
same change (add or remove a pattern or a subscriber, change a type filter). Every step
must move the store by exactly one version (the next number, but after aster-control was
killed: docs/control.md, "Durability") and be in force in the dataplane when asterctl
returns. The versions made are appended to W/made.txt, and the model each one was made
to be is written to W/applied/vN.json; the model persists in
W/model.yaml between runs (first taken from W/feed/routing.yaml).

    live_drive.py W FIRST LAST SEED ASTERCTL [ASTERCTL ARGS...]

Prints one line: the changes applied, and the slowest and median command-to-in-force.
"""
import json, os, random, subprocess, sys, yaml
w, first, last, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ctl = sys.argv[5:]
random.seed(seed)
state = f"{w}/model.yaml"
cfg = yaml.safe_load(open(state if os.path.exists(state) else f"{w}/feed/routing.yaml"))
syms = ["^A", "^B", "^C", "^M", "^S", "^[D-F]", "^(AB|CD)", "X$", "^Q", "^Z", "O", "^AAPL$"]
extra = cfg.get("x-extra", 0)

def run(*args):
    r = subprocess.run(ctl + list(args) + ["-o", "json"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"asterctl {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return json.loads(r.stdout)

worst = 0
times = []
prev = None
for step in range(first, last + 1):
    subs = cfg["subscribers"]
    while True:
        op = random.choice(["addpat", "addpat", "delpat", "types", "addsub", "delsub"])
        s = random.choice(subs)
        if op == "addpat":
            p = random.choice(syms)
            if p in s["symbols"]:
                continue
            s["symbols"].append(p)
            cmd = ("add-pattern", s["name"], p)
        elif op == "delpat":
            if len(s["symbols"]) < 2:
                continue
            p = s["symbols"].pop(random.randrange(len(s["symbols"])))
            cmd = ("remove-pattern", s["name"], p)
        elif op == "types":
            if "types" in s:
                del s["types"]
            else:
                s["types"] = random.choice(["AFD", "AFECXDUPQ", "RAF", "SAF"])
            cmd = None  # a type-filter edit goes through apply -f
        elif op == "addsub":
            extra += 1
            n = {"name": f"live{extra:03d}", "feed": "itch", "port": "out0",
                 "dst": {"mac": f"02:00:00:00:9{extra // 256:01x}:{extra % 256:02x}",
                         "ip": f"10.9.{extra // 256}.{extra % 256}", "port": 40000 + extra},
                 "session": f"LIVE{extra:06d}", "symbols": [random.choice(syms)]}
            subs.append(n)
            cmd = ("add-subscriber", n["name"], "--feed", "itch", "--port", "out0",
                   "--dst-mac", n["dst"]["mac"], "--dst-ip", n["dst"]["ip"],
                   "--dst-port", str(n["dst"]["port"]), "--session", n["session"],
                   "--symbols", n["symbols"][0])
        else:
            if len(subs) <= 4:
                continue
            gone = subs.pop(random.randrange(len(subs)))
            cmd = ("remove-subscriber", gone["name"])
        break
    if cmd is None or random.random() < 0.5:
        with open(f"{w}/next.yaml", "w") as f:
            yaml.safe_dump({k: cfg[k] for k in ("feeds", "ports", "subscribers")}, f,
                           default_flow_style=None, width=1 << 20)
        r = run("apply", "-f", f"{w}/next.yaml")
    else:
        r = run(*cmd)
    d = r["dataplane"]
    v = r["version"]
    if (prev is not None and r["version_before"] != prev) or v <= r["version_before"] or \
            (v != r["version_before"] + 1 and step != first):
        sys.exit(f"step {step}: versions {r['version_before']} -> {v} (previous {prev})")
    if not d.get("reached") or d.get("status") != 0 or d.get("table_version") != v:
        sys.exit(f"step {step}: dataplane did not take version {v}: {d}")
    prev = v
    with open(f"{w}/made.txt", "a") as f:
        f.write(f"{v}\n")
    # what this version was made to be, for tests that rebuild it from the store
    os.makedirs(f"{w}/applied", exist_ok=True)
    with open(f"{w}/applied/v{v}.json", "w") as f:
        json.dump({k: cfg[k] for k in ("feeds", "ports", "subscribers")}, f)
    worst = max(worst, d["round_trip_ns"])
    times.append(d["round_trip_ns"])
cfg["x-extra"] = extra
yaml.safe_dump(cfg, open(state, "w"), default_flow_style=None, width=1 << 20)
times.sort()
print(f"changes {first}..{last} applied through asterctl (versions up to {prev}), slowest "
      f"command-to-in-force {worst / 1e6:.2f} ms, median {times[len(times) // 2] / 1e6:.2f} ms")
