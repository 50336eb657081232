#!/usr/bin/python3
"""The operator's console in a real browser: a test peer of aster-control.

    console_check.py --url http://127.0.0.1:PORT --out DIR --trouble SUBSCRIBER
                     --by IDENTITY --diff TEXT
    console_check.py --url http://127.0.0.1:PORT --out DIR --recovery [--down LINE]

Drives headless Chromium (Debian's chromium and chromium-driver, through Selenium)
against a running aster-control with a live dataplane and traffic, and checks each page
of the console (docs/console.md) against what aster-control serves at the same moment:

- the figures in the DOM (health, versions, lcore heartbeats, port, feed and subscriber
  counters, each feed's recovery figures) equal those of the /status document of the
  very sample the page shows (a thread here keeps every /status document by its sample
  number);
- live values change without a reload (the sample number and the counters move while a
  marker set in the page stays);
- the subscriber in trouble (--trouble) is flagged and sorted first; a click on a column
  sorts by it (descending, then ascending);
- the history names who made the latest version (--by) and shows its diff (--diff);
- the latency page, once traffic has stopped, shows exactly the dataplane's figures
  (GET /api/v1/stats) and draws the histogram;
- the browser logged no error (SEVERE) on any page.

With --recovery (a feed recovering from its exchange's server while the page is open),
only the feeds page: its recovery summary, counters and lines as /status says, twice,
and the messages recovered must have risen in between, with no reload; each --down LINE
has carried nothing and is flagged "never wins".

A screenshot of each page is saved in DIR. Prints what it compared; exit 1 with one
line on the first mismatch. Shares no code with aster: it reads the documents and the
DOM as an operator's tools would.
"""
import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

PAGES = ["overview", "subscribers", "history", "feeds", "latency"]
# A feed's upstream recovery summed up on the feeds page (docs/console.md, "Feeds").
RECOVERY = ["recovery_open_ranges", "held_packets", "recovered", "recovery_requests",
            "recovery_resends", "recovery_gaps", "recovery_gap_messages", "recovery_abandoned"]


def die(msg):
    print(f"console_check: FAIL: {msg}")
    sys.exit(1)


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def number(text):
    """A figure as the page prints it ("1,234", "-") as an int, or None."""
    t = (text or "").strip()
    if t in ("", "-"):
        return None
    digits = re.sub(r"[^0-9-]", "", t)
    return int(digits) if digits not in ("", "-") else None


class StatusKeeper(threading.Thread):
    """Polls /status faster than aster-control samples, keeping each sample's document."""

    def __init__(self, base):
        super().__init__(daemon=True)
        self.base = base
        self.docs = {}
        self.lock = threading.Lock()
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                d = get_json(self.base + "/status", timeout=2)
                with self.lock:
                    self.docs[d["sample"]] = d
                    for k in sorted(self.docs)[:-600]:
                        del self.docs[k]
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.04)

    def doc(self, sample, wait=3.0):
        end = time.time() + wait
        while time.time() < end:
            with self.lock:
                if sample in self.docs:
                    return self.docs[sample]
            time.sleep(0.05)
        with self.lock:
            have = sorted(self.docs)[-5:]
        die(f"/status of sample {sample} never seen (latest seen: {have})")


class Console:
    def __init__(self, base, out):
        self.base = base
        self.out = out
        self.errors = []
        o = webdriver.ChromeOptions()
        o.binary_location = "/usr/bin/chromium"
        for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                  "--window-size=1400,1000", "--user-data-dir=" + tempfile.mkdtemp(prefix="aster-chromium-")]:
            o.add_argument(a)
        o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
        self.d.set_script_timeout(10)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def wait(self, what, script, timeout=10.0):
        end = time.time() + timeout
        while time.time() < end:
            v = self.js(script)
            if v:
                return v
            time.sleep(0.1)
        die(f"timed out waiting for {what}")

    def collect_log(self, page):
        for e in self.d.get_log("browser"):
            if e.get("level") == "SEVERE":
                self.errors.append(f"{page}: {e.get('message')}")

    def show(self, page):
        self.js("location.hash = arguments[0]", page)
        self.wait(f"page {page}", f"return document.getElementById('page-{page}')"
                  ".classList.contains('active')")
        # one more sample drawn on it
        s = int(self.js("return document.body.dataset.sample"))
        self.wait(f"a sample drawn on {page}", f"return Number(document.body.dataset.sample) > {s}")

    def shot(self, page, name=None):
        self.js("window.scrollTo(0, 0)")
        path = os.path.join(self.out, name or f"console-{page}.png")
        self.d.save_screenshot(path)
        return path

    def quit(self):
        self.d.quit()


def read_overview(c):
    return c.js("""
      const q = s => document.querySelector(s);
      const lc = {};
      document.querySelectorAll('#ov-lcores tr[data-lcore]').forEach(r => {
        lc[r.dataset.lcore] = r.querySelector('[data-c=heartbeat]').textContent; });
      const ports = {};
      document.querySelectorAll('#ov-ports tr[data-port]').forEach(r => {
        ports[r.dataset.port] = r.querySelector('[data-c=packets]').textContent; });
      return {sample: Number(document.body.dataset.sample), state: q('#ov-state').textContent,
              reasons: [...document.querySelectorAll('#ov-reasons li')].map(l => l.textContent),
              store: q('#ov-store-version').textContent, dp: q('#ov-dp-version').textContent,
              lcores: lc, ports: ports};""")


def check_overview(c, keeper):
    v = read_overview(c)
    doc = keeper.doc(v["sample"])
    if v["state"] != doc["state"]:
        die(f"overview: state {v['state']!r}, /status says {doc['state']!r}")
    want = doc["reasons"] or ["no reason: all checks pass"]
    if v["reasons"] != want:
        die(f"overview: reasons {v['reasons']}, /status says {doc['reasons']}")
    if number(v["store"]) != doc["store_version"]:
        die(f"overview: store version {v['store']}, /status says {doc['store_version']}")
    if number(v["dp"]) != doc["dataplane"].get("table_version"):
        die(f"overview: dataplane version {v['dp']}, /status says {doc['dataplane']}")
    for l in doc["lcores"]:
        if number(v["lcores"].get(str(l["lcore"]))) != l["heartbeat"]:
            die(f"overview: lcore {l['lcore']} heartbeat {v['lcores'].get(str(l['lcore']))}, "
                f"/status says {l['heartbeat']}")
    for p in doc["ports"]:
        if number(v["ports"].get(p["name"])) != p["packets"]:
            die(f"overview: port {p['name']} packets {v['ports'].get(p['name'])}, /status says {p['packets']}")
    print(f"overview: sample {v['sample']}: state {v['state']}, table version {doc['store_version']}, "
          f"{len(doc['lcores'])} lcore heartbeats and {len(doc['ports'])} ports as /status says")
    return v["sample"]


def read_feeds(c):
    return c.js("""
      const out = {};
      document.querySelectorAll('.feed[data-feed]').forEach(f => {
        const m = {};
        f.querySelectorAll('tr[data-counter]').forEach(r => {
          m[r.dataset.counter] = [r.querySelector('[data-c=total]').textContent,
                                  r.querySelector('[data-c=rate]').textContent]; });
        const rec = {};
        f.querySelectorAll('.feed-recovery .tile[data-v]').forEach(t => { rec[t.dataset.c] = t.dataset.v; });
        const st = f.querySelector('.feed-recovery [data-c=recovery_state] .value');
        const lines = {};
        f.querySelectorAll('.feed-lines[data-set=lines] tr[data-row]').forEach(r => {
          const l = {flagged: r.classList.contains('trouble-now')};
          r.querySelectorAll('td[data-c]').forEach(td => {
            l[td.dataset.c] = td.textContent; l[td.dataset.c + '/s'] = td.nextElementSibling.textContent; });
          lines[r.dataset.row] = l; });
        out[f.dataset.feed] = {counters: m, recovery: rec, state: st ? st.textContent : null,
                               lines: lines}; });
      return {sample: Number(document.body.dataset.sample), feeds: out};""")


def check_feeds(c, keeper, down=()):
    v = read_feeds(c)
    doc = keeper.doc(v["sample"])
    if sorted(v["feeds"]) != sorted(doc["feeds"]):
        die(f"feeds: page shows {sorted(v['feeds'])}, /status has {sorted(doc['feeds'])}")
    n = r = 0
    for name, counters in doc["feeds"].items():
        shown = v["feeds"][name]
        for k, want in counters.items():
            if not isinstance(want, int):
                continue
            got = shown["counters"].get(k)
            if got is None or number(got[0]) != want:
                die(f"feeds: {name} {k} = {got and got[0]}, /status of sample {v['sample']} says {want}")
            n += 1
        # The recovery summary: every figure the feed reports, as /status says.
        for k in RECOVERY:
            if k in counters and number(shown["recovery"].get(k)) != counters[k]:
                die(f"feeds: {name} recovery {k} = {shown['recovery'].get(k)}, /status of sample "
                    f"{v['sample']} says {counters[k]}")
            r += k in counters
        if r and not shown["state"]:
            die(f"feeds: {name} reports recovery figures but the page shows no recovery state")
        # Per line (docs/console.md, "Feeds"): packets, won and lost as /status says; every
        # message won by one line or recovered, every duplicate lost by one line (or an
        # answer of the recovery server); a line that carries traffic has won some, a line
        # that is down (`down`) has received and won nothing and is flagged "never wins";
        # a line is flagged exactly when it won none in the last second while another did.
        lines = counters.get("lines") or die(f"feeds: /status has no lines for {name}")
        if sorted(shown["lines"]) != sorted(lines):
            die(f"feeds: {name} shows lines {sorted(shown['lines'])}, /status has {sorted(lines)}")
        for ln, lc in lines.items():
            for k, want in lc.items():
                if number(shown["lines"][ln].get(k)) != want:
                    die(f"feeds: {name} line {ln} {k} = {shown['lines'][ln].get(k)}, /status of "
                        f"sample {v['sample']} says {want}")
                n += 1
            if ln in down and (lc["packets"] or lc["won"] or not shown["lines"][ln]["flagged"]):
                die(f"feeds: {name} line {ln} is down but shows {lc} (flagged "
                    f"{shown['lines'][ln]['flagged']})")
            if ln not in down and lc["won"] <= 0:
                die(f"feeds: {name} line {ln} won {lc['won']} while it carries the feed")
        rates = {ln: float(l["won/s"].replace(",", "")) if l["won/s"] not in ("", "-") else 0.0
                 for ln, l in shown["lines"].items()}
        for ln, l in shown["lines"].items():
            silent = rates[ln] == 0 and any(r > 0 for r in rates.values())
            if l["flagged"] != silent:
                die(f"feeds: {name} line {ln} flagged {l['flagged']} with won/s {rates}")
        if sum(l["won"] for l in lines.values()) + counters["recovered"] != counters["messages"]:
            die(f"feeds: {name} lines won {[l['won'] for l in lines.values()]} + recovered "
                f"{counters['recovered']} != messages {counters['messages']}")
        # (answers of the recovery server that came after a line count as duplicates too)
        lost = sum(l["lost"] for l in lines.values())
        if lost > counters["duplicates"] or (not counters.get("recovery_answers")
                                             and lost != counters["duplicates"]):
            die(f"feeds: {name} lines lost {[l['lost'] for l in lines.values()]}, duplicates "
                f"{counters['duplicates']}, recovery answers {counters.get('recovery_answers')}")
        rate = shown["counters"].get("messages", [None, "-"])[1]
        if not rate or rate == "-" or float(rate.replace(",", "")) <= 0:
            die(f"feeds: {name} shows {rate!r} messages/s while traffic flows")
    first = v["feeds"][next(iter(doc["feeds"]))]
    v["doc"] = doc
    won = {ln: l["won"] for ln, l in first["lines"].items()}
    lost = {ln: l["lost"] for ln, l in first["lines"].items()}
    flagged = [ln for ln, l in first["lines"].items() if l["flagged"]]
    print(f"feeds: sample {v['sample']}: {n} counters of {len(doc['feeds'])} feed(s) as /status says, "
          f"{r} of them in the recovery summary (state {first['state']!r}); "
          f"messages/s shown {first['counters']['messages'][1]}; per line won {won}, lost {lost}; "
          f"flagged \"never wins\": {flagged}")
    return v


def check_recovery(c, keeper, down):
    """Recovery live: the summary follows /status and the recovered figure rises."""
    c.js("window.__asterMarker = 'no reload'")
    a = check_feeds(c, keeper, down)
    feed = next(iter(a["doc"]["feeds"]))
    time.sleep(2.0)
    b = check_feeds(c, keeper, down)
    ra, rb = (number(x["feeds"][feed]["recovery"].get("recovered")) for x in (a, b))
    if ra is None or rb is None or rb <= ra:
        die(f"recovery: messages recovered shown {ra} then {rb}: not rising while the feed recovers")
    if c.js("return window.__asterMarker") != "no reload":
        die("recovery: the page reloaded")
    f = b["doc"]["feeds"][feed]
    print(f"recovery: samples {a['sample']} -> {b['sample']}: recovered {ra} -> {rb} without reload; "
          f"requests {f['recovery_requests']}, resent {f['recovery_resends']}, given up "
          f"{f['recovery_gaps']}; state {b['feeds'][feed]['state']!r}")


def read_subscribers(c):
    return c.js("""
      const rows = [];
      document.querySelectorAll('#subs tbody tr[data-sub]').forEach(r => {
        const cells = {};
        r.querySelectorAll('td[data-c]').forEach(td => { cells[td.dataset.c] = [td.textContent, td.className]; });
        rows.push({name: r.dataset.sub, cls: r.className, cells: cells}); });
      return {sample: Number(document.body.dataset.sample), rows: rows,
              summary: document.getElementById('subs-summary').textContent};""")


def check_subscribers(c, keeper, trouble):
    v = read_subscribers(c)
    doc = keeper.doc(v["sample"])
    names = [r["name"] for r in v["rows"]]
    if sorted(names) != sorted(doc["subscribers"]):
        die(f"subscribers: page lists {sorted(names)}, /status has {sorted(doc['subscribers'])}")
    n = 0
    for r in v["rows"]:
        for k, want in doc["subscribers"][r["name"]].items():
            got = r["cells"].get(k)
            if got is None or number(got[0]) != want:
                die(f"subscribers: {r['name']} {k} = {got and got[0]}, /status of sample "
                    f"{v['sample']} says {want}")
            n += 1
    retransmit = [k for k in doc["subscribers"][names[0]] if k.startswith("retransmit")]
    if "retransmit_messages" in retransmit and "retransmit_messages/s" not in v["rows"][0]["cells"]:
        die("subscribers: no retransmitted messages/s column while /status counts retransmissions")
    first = v["rows"][0]
    if first["name"] != trouble or "trouble-now" not in first["cls"]:
        die(f"subscribers: {trouble!r} (dropping) should be flagged and first; first row is "
            f"{first['name']!r} with class {first['cls']!r}")
    if "bad" not in first["cells"].get("dropped/s", ["", ""])[1]:
        die(f"subscribers: {trouble}'s dropped/s cell is not marked: {first['cells'].get('dropped/s')}")
    # Drops by reason (docs/console.md, "Subscribers"): a column each, summing to dropped;
    # the troubled one's reason (its port's TX queue refuses every frame) is marked.
    reasons = [k for k in doc["subscribers"][trouble] if k.startswith("dropped_")]
    if not reasons:
        die("subscribers: /status counts no drop reason per subscriber")
    for name, s in doc["subscribers"].items():
        if s["dropped"] != sum(s[k] for k in reasons):
            die(f"subscribers: {name} dropped {s['dropped']} != {[(k, s[k]) for k in reasons]}")
    why = first["cells"].get("dropped_tx_full", ["", ""])
    if number(why[0]) != doc["subscribers"][trouble]["dropped"] or "bad" not in why[1]:
        die(f"subscribers: {trouble}'s dropped_tx_full cell {why}, /status of sample {v['sample']} "
            f"says dropped {doc['subscribers'][trouble]['dropped']}")
    flagged = [r["name"] for r in v["rows"] if "trouble-now" in r["cls"]]
    print(f"subscribers: sample {v['sample']}: {n} counters of {len(names)} subscribers as /status "
          f"says ({len(retransmit)} of retransmission, {len(reasons)} drop reasons each); {trouble} flagged and "
          f"first (dropped {first['cells']['dropped'][0]}, {first['cells']['dropped/s'][0]}/s, all "
          f"dropped_tx_full, marked); flagged: {flagged}; summary: {v['summary']!r}")


def check_live(c, trouble):
    """Values move with no reload: a marker set in the page survives the updates."""
    c.js("window.__asterMarker = 'no reload'")
    def read():
        return c.js("""
          const rows = {};
          document.querySelectorAll('#subs tbody tr[data-sub]').forEach(r => {
            rows[r.dataset.sub] = r.querySelector('td[data-c=messages]').textContent; });
          return {sample: Number(document.body.dataset.sample), rows: rows};""")
    a = read()
    time.sleep(2.0)
    b = read()
    moved = [n for n in a["rows"] if n != trouble and number(b["rows"].get(n)) is not None
             and number(b["rows"][n]) > number(a["rows"][n])]
    if b["sample"] <= a["sample"]:
        die(f"live: the page stayed at sample {a['sample']}")
    if not moved:
        die(f"live: no subscriber's messages moved in 2 s ({a['rows']} -> {b['rows']})")
    if c.js("return window.__asterMarker") != "no reload":
        die("live: the page reloaded")
    print(f"live: samples {a['sample']} -> {b['sample']} in 2 s without reload; messages moved for {moved}")


def check_sort(c):
    """A click on a column sorts by it, descending, a second click ascending."""
    def order(col):
        s = int(c.js("return document.body.dataset.sample"))
        c.wait("a sample drawn after the click", f"return Number(document.body.dataset.sample) > {s}")
        return c.js(f"""return [...document.querySelectorAll('#subs tbody tr[data-sub]')].map(r =>
          [r.dataset.sub, r.querySelector('td[data-c="{col}"]').textContent]);""")
    for col in ("messages", "dropped"):
        got = []
        for desc in (True, False):
            c.js(f"document.querySelector('#subs th[data-sort=\"{col}\"]').click()")
            rows = order(col)
            vals = [number(v) for _, v in rows]
            if vals != sorted(vals, reverse=desc):
                die(f"subscribers: sorted by {col} {'descending' if desc else 'ascending'}, the page "
                    f"shows {rows}")
            got.append(rows[0][0])
        print(f"subscribers: a click sorts by {col}: first {got[0]} descending, {got[1]} ascending")


def check_history(c, keeper, by, diff):
    store = keeper.doc(int(c.js("return document.body.dataset.sample")))["store_version"]
    c.wait("the versions table", "return document.querySelector('#hist-versions tr[data-version]') !== null")
    top = c.js("""const r = document.querySelector('#hist-versions tr[data-version]');
                  return {version: Number(r.dataset.version), by: r.querySelector('[data-c=by]').textContent};""")
    if top["version"] != store:
        die(f"history: newest version listed {top['version']}, the store holds {store}")
    if by not in top["by"]:
        die(f"history: version {store} made by {top['by']!r}, expected {by!r}")
    c.js("document.querySelector('#hist-versions tr[data-version]').click()")
    c.wait("the diff", "return document.getElementById('hist-diff-title').textContent.includes('against')")
    text = c.js("return document.getElementById('hist-diff').textContent")
    if diff not in text:
        die(f"history: the diff of version {store} lacks {diff!r}: {text[:300]!r}")
    audit = c.js("return document.querySelectorAll('#hist-audit tbody tr').length")
    print(f"history: version {store} by {top['by']!r}; its diff shows {diff!r}; {audit} audit lines")


def check_latency(c, base):
    c.wait("latency tiles", "return document.querySelector('#lat-tiles [data-c=count]') !== null", 15)
    count = lambda: int(c.js("return Number(document.querySelector('#lat-tiles [data-c=count]').dataset.v)"))
    # Traffic over: the dataplane's figures settle, then the page must show them exactly.
    last, still = None, 0
    end = time.time() + 60
    while still < 3:
        if time.time() > end:
            die("latency: the dataplane's latency count never settled")
        lat = get_json(base + "/api/v1/stats")["stats"]["latency"]
        still = still + 1 if lat == last else 0
        last = lat
        time.sleep(0.5)
    end = time.time() + 5
    shown = None
    while time.time() < end:
        shown = c.js("""const o = {};
          document.querySelectorAll('#lat-tiles [data-c]').forEach(t => { o[t.dataset.c] = Number(t.dataset.v); });
          return o;""")
        if shown == last:
            break
        time.sleep(0.3)
    if shown != last:
        die(f"latency: page shows {shown}, the dataplane says {last}")
    bars = c.js("return state.charts.hist ? state.charts.hist.data.datasets[0].data.length : 0")
    frames = c.js("return state.charts.hist.data.datasets[0].data.reduce((a, b) => a + b, 0)")
    if bars == 0 or frames != last["count"]:
        die(f"latency: histogram of {bars} bars holding {frames} frames, the dataplane counted {last['count']}")
    print(f"latency: p50 {last['p50_ns']} ns, p99 {last['p99_ns']} ns, p99.9 {last['p999_ns']} ns, "
          f"max {last['max_ns']} ns over {last['count']} frames as the dataplane says; "
          f"histogram of {bars} buckets holds them all")
    return count()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--trouble")
    ap.add_argument("--by")
    ap.add_argument("--diff")
    ap.add_argument("--recovery", action="store_true")
    ap.add_argument("--down", action="append", default=[],
                    help="with --recovery: a line that carries nothing (flagged never wins)")
    a = ap.parse_args()
    if not a.recovery and not (a.trouble and a.by and a.diff):
        ap.error("--trouble, --by and --diff, or --recovery")
    os.makedirs(a.out, exist_ok=True)
    keeper = StatusKeeper(a.url)
    keeper.start()
    c = Console(a.url, a.out)
    try:
        t0 = time.time()
        c.d.get(a.url + "/console/#overview")
        c.wait("the first sample", "return Number(document.body.dataset.sample) > 0", 15)
        if a.recovery:
            c.show("feeds")
            check_recovery(c, keeper, set(a.down))
            c.shot("feeds", "console-feeds-recovery.png")
            c.collect_log("feeds")
            if c.errors:
                die(f"{len(c.errors)} browser error(s), first: {c.errors[0]}")
            print(f"console: feeds page checked while recovering in {time.time() - t0:.1f} s, "
                  f"no browser error; screenshot in {a.out}")
            return
        c.show("overview")
        check_overview(c, keeper)
        c.shot("overview")
        c.collect_log("overview")
        c.show("subscribers")
        check_subscribers(c, keeper, a.trouble)
        c.shot("subscribers")
        check_live(c, a.trouble)
        check_sort(c)
        c.collect_log("subscribers")
        c.show("history")
        check_history(c, keeper, a.by, a.diff)
        c.shot("history")
        c.collect_log("history")
        # Late enough that the feed's chart holds a few seconds of rates.
        c.show("feeds")
        check_feeds(c, keeper)
        c.shot("feeds")
        c.collect_log("feeds")
        c.show("latency")
        check_latency(c, a.url)
        c.shot("latency")
        c.collect_log("latency")
        if c.errors:
            die(f"{len(c.errors)} browser error(s), first: {c.errors[0]}")
        print(f"console: {len(PAGES)} pages checked in {time.time() - t0:.1f} s, no browser error; "
              f"screenshots in {a.out}")
    finally:
        keeper.stop = True
        c.quit()


if __name__ == "__main__":
    main()
