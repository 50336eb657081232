/* aster console (docs/console.md). Plain JavaScript, no build step.
 *
 * One server-sent events stream (/events) carries "status" (the /status document, at
 * every health sample) and "stats" (the dataplane's stats with the latency histogram,
 * every second); the pages redraw from it, no reload. A page shows every counter the
 * documents carry, so counters the dataplane adds later appear by themselves; the
 * lists below only pick those summed up, charted or given a rate. Rates are the change
 * of a counter over about the last second of samples.
 */
"use strict";

const RATE_MS = 1000;      /* rates over about this much history */
const KEEP_MS = 30000;     /* status documents kept for rates and "rose recently" */
const RECENT_MS = 3000;    /* a trouble counter that rose within this is "now" */
const TIME_POINTS = 300;   /* latency-over-time points (one per stats event) */
const FEED_POINTS = 120;   /* feed rate points (one a second) */
/* Counters whose rise means trouble for the feed or subscriber that has them. */
const TROUBLE = /drop|gap|retrans|limit|unavail|overflow|timeout|error|miss|late|lost|reject|malformed|stale|give|fail|abandon/i;
/* Values that are a level now, not a count since start: shown without a rate. */
const GAUGES = new Set(["recovery_open_ranges", "held_packets"]);
/* A feed's upstream recovery (docs/protocol.md §6.3), as the feeds page sums it up:
 * [key, label, class when it is not 0]. */
const RECOVERY = [["recovery_open_ranges", "open ranges", "warn"], ["held_packets", "held packets", "warn"],
  ["recovered", "recovered msgs", ""], ["recovery_requests", "requests", ""],
  ["recovery_resends", "resent", ""], ["recovery_gaps", "given up ranges", "bad"],
  ["recovery_gap_messages", "given up msgs", "bad"], ["recovery_abandoned", "abandoned", "bad"]];
/* Subscriber counters with a rate column; the others show their total only. */
const SUB_RATED = ["messages", "packets", "dropped", "retransmit_messages"];
/* Feed counters charted per second (the table has every one). */
const CHARTED = ["messages", "packets", "duplicates", "gaps", "recovered"];

const state = {
  page: "overview",
  docs: [],          /* recent status documents, oldest first */
  stats: [],         /* recent stats replies, oldest first */
  version: null,     /* store version last seen, to refetch what depends on it */
  lastEvent: 0,
  history: null,     /* /api/v1/history reply */
  feedsCfg: null,    /* /api/v1/feeds reply */
  sort: {key: "trouble", desc: true},
  selected: null,    /* history: the version shown */
  charts: {},
  latTime: [],       /* [{t, p50, p99, p999, max}] */
  feedRates: {},     /* feed -> {t: [labels], v: {counter: [per second]}} */
  feedRatesAt: 0,
  feedCharts: {},
};

/* ------------------------------------------------------------------ helpers */

function $(id) { return document.getElementById(id); }

function esc(s) {
  return String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;"}[c]));
}

function fmtInt(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : "-";
}

function fmtRate(x) {
  if (x === null || x === undefined || !isFinite(x)) return "-";
  if (Math.abs(x) < 10) return x.toFixed(1);
  return Math.round(x).toLocaleString("en-US");
}

function fmtNs(ns) {
  if (typeof ns !== "number") return "-";
  if (ns < 1000) return ns.toFixed(0) + " ns";
  if (ns < 1e6) return (ns / 1e3).toPrecision(4) + " \u00b5s";
  if (ns < 1e9) return (ns / 1e6).toPrecision(4) + " ms";
  return (ns / 1e9).toPrecision(4) + " s";
}

function ago(iso) {
  const t = Date.parse(iso);
  if (isNaN(t)) return "";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return (s / 3600).toFixed(1) + " h ago";
  return (s / 86400).toFixed(1) + " days ago";
}

/* Numbers of an object, nested objects flattened with dotted names. */
function flatten(o, prefix, out) {
  out = out || {};
  for (const [k, v] of Object.entries(o || {})) {
    const name = prefix ? prefix + "." + k : k;
    if (typeof v === "number") out[name] = v;
    else if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, name, out);
  }
  return out;
}

function dig(o, path) {
  for (const p of path) {
    if (o === null || o === undefined) return undefined;
    o = o[p];
  }
  return o;
}

/* The latest document, and the one about `ms` before it (the oldest if none is). */
function latest() { return state.docs.length ? state.docs[state.docs.length - 1] : null; }

function before(ms) {
  const now = latest();
  if (!now) return null;
  let pick = state.docs[0];
  for (const d of state.docs) {
    if (d.time_ms <= now.time_ms - ms) pick = d;
    else break;
  }
  return pick;
}

/* Per-second rate of the counter at `path` over about RATE_MS. */
function rate(path) {
  const now = latest(), then = before(RATE_MS);
  if (!now || !then || now === then) return null;
  const a = dig(then, path), b = dig(now, path);
  if (typeof a !== "number" || typeof b !== "number") return null;
  const dt = (now.time_ms - then.time_ms) / 1000;
  return dt > 0 ? Math.max(0, b - a) / dt : null;
}

/* Whether the counter at `path` rose within the last `ms`. */
function rose(path, ms) {
  const now = latest(), then = before(ms);
  if (!now || !then || now === then) return false;
  const a = dig(then, path), b = dig(now, path);
  return typeof a === "number" && typeof b === "number" && b > a;
}

function html(id, text) {
  const e = $(id);
  if (e) e.innerHTML = text;
}

function text(id, t) {
  const e = $(id);
  if (e) e.textContent = t;
}

function getJSON(url) {
  return fetch(url, {cache: "no-store"}).then(r => r.json());
}

/* ------------------------------------------------------------------ header */

function renderHeader(doc) {
  const badge = $("health-badge");
  badge.textContent = doc.state;
  badge.className = "badge " + doc.state;
  text("head-version", fmtInt(doc.store_version));
  const dp = doc.dataplane || {};
  text("head-dp", dp.connected ? "connected, v" + fmtInt(dp.table_version) : "not connected");
  document.body.dataset.sample = String(doc.sample);
}

function renderLive() {
  const fresh = Date.now() - state.lastEvent < 2000;
  $("live").className = "live " + (fresh ? "fresh" : "stale");
  text("live-text", fresh ? "live" : state.lastEvent ? "no update for " +
    Math.round((Date.now() - state.lastEvent) / 1000) + " s" : "waiting");
}

/* ------------------------------------------------------------------ overview */

function counterRow(label, path, attrs) {
  const v = dig(latest(), path);
  const gauge = GAUGES.has(path[path.length - 1]);
  const bad = TROUBLE.test(label) && rose(path, RECENT_MS);
  return `<tr ${attrs}><td>${esc(label)}</td><td class="n${bad ? " bad" : ""}" data-c="total">${fmtInt(v)}</td>` +
    `<td class="n${bad ? " bad" : ""}" data-c="rate">${gauge ? "now" : fmtRate(rate(path))}</td></tr>`;
}

function renderOverview(doc) {
  const st = $("ov-state");
  st.textContent = doc.state;
  st.className = "state " + doc.state;
  html("ov-reasons", (doc.reasons || []).map(r => `<li>${esc(r)}</li>`).join("") ||
    '<li class="empty">no reason: all checks pass</li>');
  const dp = doc.dataplane || {};
  text("ov-store-version", fmtInt(doc.store_version));
  text("ov-dp-version", dp.connected ? fmtInt(dp.table_version) : "-");
  const link = doc.dataplane_link || {};
  html("ov-link", dp.connected ? '<span class="okc">connected</span>' :
    `<span class="bad">down</span> ${esc(link.error || "")}`);
  text("ov-pid", dp.pid !== undefined ? String(dp.pid) : "-");
  text("ov-boot", dp.boot_id !== undefined ? "0x" + dp.boot_id.toString(16) : "-");
  text("ov-age", dp.health_age_ms !== undefined ? dp.health_age_ms + " ms" : "-");
  const v = state.history && state.history.versions && state.history.versions[0];
  if (v && v.version === doc.store_version) {
    text("ov-changed", v.applied_at + " (" + ago(v.applied_at) + ")");
    text("ov-changed-by", who(v));
    text("ov-changed-cmd", v.command || "-");
  } else if (!doc.store_version) {
    text("ov-changed", "never: no table applied yet");
  }

  let rows = '<thead><tr><th>lcore</th><th>roles</th><th class="n">heartbeat</th>' +
    '<th class="n">turns/s</th><th>ring</th><th>state</th></tr></thead><tbody>';
  (doc.lcores || []).forEach((l, i) => {
    const turns = rate(["lcores", i, "heartbeat"]);
    const stalled = turns !== null && turns === 0;
    const pct = l.ring_size ? 100 * l.ring_used / l.ring_size : 0;
    const cls = pct > 80 ? "bad" : pct > 50 ? "warn" : "";
    rows += `<tr data-lcore="${l.lcore}"><td>${l.lcore}</td><td>${esc(l.roles)}</td>` +
      `<td class="n" data-c="heartbeat">${fmtInt(l.heartbeat)}</td><td class="n">${fmtRate(turns)}</td>` +
      `<td><progress class="${cls}" max="100" value="${pct.toFixed(0)}"></progress> ` +
      `${fmtInt(l.ring_used)} / ${fmtInt(l.ring_size)}</td>` +
      `<td class="${stalled ? "bad" : "okc"}">${stalled ? "stalled" : "polling"}</td></tr>`;
  });
  html("ov-lcores", rows + "</tbody>");

  rows = '<thead><tr><th>port</th><th>direction</th><th>link</th><th class="n">packets</th>' +
    '<th class="n">packets/s</th><th class="n">missed</th></tr></thead><tbody>';
  (doc.ports || []).forEach((p, i) => {
    const missing = rose(["ports", i, "missed"], RECENT_MS);
    rows += `<tr data-port="${esc(p.name)}"><td>${esc(p.name)}</td><td>${p.rx ? "feed input" : "output"}</td>` +
      `<td class="${p.link_up ? "okc" : "bad"}">${p.link_up ? "up" : "down"}</td>` +
      `<td class="n" data-c="packets">${fmtInt(p.packets)}</td><td class="n">${fmtRate(rate(["ports", i, "packets"]))}</td>` +
      `<td class="n${missing ? " bad" : ""}" data-c="missed">${fmtInt(p.missed)}</td></tr>`;
  });
  html("ov-ports", rows + "</tbody>");

  const drops = Object.keys(doc.drops || {}).filter(k => doc.drops[k] > 0 || rose(["drops", k], KEEP_MS));
  rows = '<thead><tr><th>reason</th><th class="n">count</th><th class="n">per second</th></tr></thead><tbody>';
  rows += drops.map(k => counterRow(k, ["drops", k], `data-drop="${esc(k)}"`)).join("") ||
    '<tr><td colspan="3" class="empty">no drops</td></tr>';
  html("ov-drops", rows + "</tbody>");
}

/* ------------------------------------------------------------------ feeds */

/* A table of named counter sets: rows are the sets, columns the union of counters. */
function matrix(title, sets, path) {
  const names = Object.keys(sets);
  const cols = [];
  names.forEach(n => Object.keys(flatten(sets[n])).forEach(c => { if (!cols.includes(c)) cols.push(c); }));
  const won = cols.find(c => /won/i.test(c));
  let t = `<h3>${esc(title)}</h3><table class="data"><thead><tr><th>${esc(title)}</th>` +
    cols.map(c => `<th class="n">${esc(c)}</th><th class="n">/s</th>`).join("") + "</tr></thead><tbody>";
  const anyWins = won && names.some(n => (rate(path.concat([n]).concat(won.split("."))) || 0) > 0);
  for (const n of names) {
    const flat = flatten(sets[n]);
    /* A line that never wins while another does is probably down. */
    const silent = won && anyWins && !(rate(path.concat([n]).concat(won.split("."))) > 0);
    t += `<tr data-row="${esc(n)}"${silent ? ' class="trouble-now" title="never wins: probably down"' : ""}>` +
      `<td>${esc(n)}${silent ? ' <span class="bad">never wins</span>' : ""}</td>`;
    for (const c of cols) {
      const p = path.concat([n]).concat(c.split("."));
      /* Lines: one loses what another won, the normal A/B case; not trouble. */
      const bad = TROUBLE.test(c) && !(won && c === "lost") && rose(p, RECENT_MS);
      t += `<td class="n${bad ? " bad" : ""}" data-c="${esc(c)}">${fmtInt(flat[c])}</td>` +
        `<td class="n">${fmtRate(rate(p))}</td>`;
    }
    t += "</tr>";
  }
  return t + "</tbody></table>";
}

/* Each feed's counters per second, one point a second, for its chart. */
function noteFeedRates(doc) {
  const now = doc.time_ms;
  if (state.feedRatesAt && now - state.feedRatesAt < 1000) return;
  state.feedRatesAt = now;
  const t = new Date(now).toLocaleTimeString("en-GB");
  for (const [name, f] of Object.entries(doc.feeds || {})) {
    const series = state.feedRates[name] = state.feedRates[name] || {t: [], v: {}};
    series.t.push(t);
    for (const k of CHARTED.filter(k => typeof f[k] === "number")) {
      const v = series.v[k] = series.v[k] || new Array(series.t.length - 1).fill(null);
      v.push(rate(["feeds", name, k]));
    }
    if (series.t.length > FEED_POINTS) {
      series.t.shift();
      Object.values(series.v).forEach(v => v.shift());
    }
  }
}

const COLORS = ["#4aa3ff", "#2fbf71", "#8b97a3", "#e5484d", "#e8a33d", "#b48ead", "#88c0d0", "#d08770"];

function feedChart(name, canvas) {
  if (typeof Chart === "undefined") return null;
  const grid = {color: "#2a333d"}, ticks = {color: "#8b97a3"};
  return new Chart(canvas, {
    type: "line",
    data: {labels: [], datasets: []},
    options: {animation: false, responsive: true, maintainAspectRatio: false, spanGaps: true,
      scales: {x: {grid, ticks: Object.assign({maxTicksLimit: 8}, ticks)},
        y: {grid, ticks, beginAtZero: true, title: {display: true, text: "per second", color: "#8b97a3"}}},
      plugins: {legend: {labels: {color: "#d6dde4", boxWidth: 12}}}},
  });
}

/* A feed's recovery at a glance: its state and the figures of RECOVERY it reports. */
function recoveryTiles(name, f) {
  const have = RECOVERY.filter(([k]) => typeof f[k] === "number");
  if (!have.length) return "";
  const path = k => ["feeds", name, k];
  const open = f.recovery_open_ranges || 0;
  const givingUp = ["recovery_gaps", "recovery_abandoned"].some(k => rose(path(k), RECENT_MS));
  const [st, cls] = givingUp ? ["giving up ranges", "bad"] : open ? [`recovering ${fmtInt(open)} range${open === 1 ? "" : "s"}`, "warn"] :
    rose(path("recovered"), RECENT_MS) ? ["recovering", "okc"] : ["idle", "okc"];
  return '<h3>Recovery <span class="sub">from the exchange\'s re-request server (docs/protocol.md \u00a76.3)</span></h3>' +
    `<div class="tiles"><div class="tile" data-c="recovery_state"><div class="label">state</div>` +
    `<div class="value ${cls}">${esc(st)}</div></div>` +
    have.map(([k, label, warn]) => {
      const c = f[k] && warn && (GAUGES.has(k) || rose(path(k), KEEP_MS)) ? " " + warn : "";
      return `<div class="tile" data-c="${k}" data-v="${f[k]}"><div class="label">${esc(label)}</div>` +
        `<div class="value${c}">${fmtInt(f[k])}</div></div>`;
    }).join("") + "</div>";
}

function renderFeeds(doc) {
  const feeds = doc.feeds || {};
  const names = Object.keys(feeds);
  const root = $("feeds");
  const cfg = {};
  ((state.feedsCfg && state.feedsCfg.feeds) || []).forEach(f => { cfg[f.name] = f; });
  /* The cards are built once per set of feeds: the charts live across updates. */
  if (root.dataset.names !== names.join("\n")) {
    Object.values(state.feedCharts).forEach(c => c.destroy());
    state.feedCharts = {};
    root.innerHTML = names.map(n => `<div class="card feed" data-feed="${esc(n)}"><h2></h2>` +
      '<div class="feed-recovery"></div>' +
      '<div class="feed-grid"><div class="feed-table"></div>' +
      '<div><div class="chart small"><canvas></canvas></div><div class="feed-nested"></div></div></div></div>').join("") ||
      '<div class="card empty">No feed: the dataplane reports none yet.</div>';
    root.dataset.names = names.join("\n");
  }
  root.querySelectorAll(".feed[data-feed]").forEach(card => {
    const name = card.dataset.feed, f = feeds[name];
    const lines = (cfg[name] && cfg[name].lines) || [];
    const gapping = rose(["feeds", name, "gaps"], RECENT_MS);
    card.querySelector("h2").innerHTML = `Feed ${esc(name)} <span class="sub">` +
      lines.map(l => esc(l.name) + " " + esc(l.group) + ":" + l.port).join(" \u00b7 ") +
      `${gapping ? ' <span class="bad">gaps rising</span>' : ""}</span>`;
    card.querySelector(".feed-recovery").innerHTML = recoveryTiles(name, f);
    /* Plain counters on the left; each nested set (per line, ...) under the chart. */
    let rows = '<table class="data"><thead><tr><th>counter</th><th class="n">total</th>' +
      '<th class="n">per second</th></tr></thead><tbody>';
    const nested = [];
    for (const [k, v] of Object.entries(f)) {
      if (typeof v === "number") rows += counterRow(k, ["feeds", name, k], `data-counter="${esc(k)}"`);
      else if (v && typeof v === "object") nested.push(k);
    }
    card.querySelector(".feed-table").innerHTML = rows + "</tbody></table>";
    let out = "";
    for (const k of nested) {
      const v = f[k];
      if (Object.values(v).every(x => x && typeof x === "object")) {
        out += `<div class="feed-lines" data-set="${esc(k)}">${matrix(k, v, ["feeds", name, k])}</div>`;
      } else {
        out += `<h3>${esc(k)}</h3><table class="data"><tbody>`;
        for (const c of Object.keys(flatten(v)))
          out += counterRow(c, ["feeds", name, k].concat(c.split(".")), `data-counter="${esc(k + "." + c)}"`);
        out += "</tbody></table>";
      }
    }
    card.querySelector(".feed-nested").innerHTML = out;
    const series = state.feedRates[name];
    let chart = state.feedCharts[name];
    if (!chart && series) chart = state.feedCharts[name] = feedChart(name, card.querySelector("canvas"));
    if (chart && series) {
      const keys = Object.keys(series.v);
      chart.data.labels = series.t.slice();
      chart.data.datasets = keys.map((k, i) => {
        const old = chart.data.datasets.find(d => d.label === k + "/s");
        return {label: k + "/s", data: series.v[k].slice(), borderColor: COLORS[i % COLORS.length],
          pointRadius: 0, borderWidth: 1.5, hidden: old ? old.hidden : false};
      });
      chart.update("none");
    }
  });
}

/* ------------------------------------------------------------------ subscribers */

function subColumns(subs) {
  const cols = [];
  for (const s of Object.values(subs))
    for (const c of Object.keys(flatten(s))) if (!cols.includes(c)) cols.push(c);
  /* Traffic, drops, retransmissions, then everything else in the documents' order. */
  const rank = c => c === "messages" ? 0 : c === "packets" ? 1 : /drop/.test(c) ? 2 : /^retransmit/.test(c) ? 3 : 4;
  return cols.map((c, i) => [rank(c), i, c]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(x => x[2]);
}

function renderSubscribers(doc) {
  const subs = doc.subscribers || {};
  const cols = subColumns(subs);
  const filter = $("subs-filter").value.trim().toLowerCase();
  const rows = [];
  let troubled = 0;
  for (const [name, s] of Object.entries(subs)) {
    const flat = flatten(s);
    const r = {name, flat, rates: {}, now: false, past: false};
    for (const c of cols) {
      const p = ["subscribers", name].concat(c.split("."));
      r.rates[c] = rate(p);
      if (TROUBLE.test(c)) {
        if (rose(p, RECENT_MS)) r.now = true;
        else if (flat[c] > 0) r.past = true;
      }
    }
    r.trouble = (r.now ? 2 : r.past ? 1 : 0) * 1e12 +
      cols.filter(c => TROUBLE.test(c)).reduce((a, c) => a + (r.rates[c] || 0), 0);
    if (r.now) troubled++;
    if (!filter || name.toLowerCase().includes(filter)) rows.push(r);
  }
  const {key, desc} = state.sort;
  const val = r => key === "trouble" ? r.trouble : key === "name" ? r.name :
    key.endsWith("/s") ? (r.rates[key.slice(0, -2)] || 0) : (r.flat[key] || 0);
  rows.sort((a, b) => {
    const x = val(a), y = val(b);
    const c = typeof x === "string" ? x.localeCompare(y) : x - y;
    return (desc ? -c : c) || a.name.localeCompare(b.name);
  });
  const th = (k, label, n) => `<th data-sort="${esc(k)}" class="${n ? "n " : ""}${key === k ? (desc ? "sorted-desc" : "sorted-asc") : ""}">${esc(label.replace(/_/g, " "))}</th>`;
  const rated = c => SUB_RATED.includes(c);
  let t = "<thead><tr>" + th("name", "subscriber", false) +
    cols.map(c => th(c, c, true) + (rated(c) ? th(c + "/s", c + "/s", true) : "")).join("") + "</tr></thead><tbody>";
  for (const r of rows) {
    t += `<tr data-sub="${esc(r.name)}" class="${r.now ? "trouble-now" : r.past ? "trouble-past" : ""}">` +
      `<td>${esc(r.name)}</td>`;
    for (const c of cols) {
      const bad = TROUBLE.test(c) && (r.rates[c] || 0) > 0;
      t += `<td class="n${bad ? " bad" : ""}" data-c="${esc(c)}">${fmtInt(r.flat[c])}</td>` +
        (rated(c) ? `<td class="n${bad ? " bad" : ""}" data-c="${esc(c)}/s">${fmtRate(r.rates[c])}</td>` : "");
    }
    t += "</tr>";
  }
  html("subs", t + "</tbody>");
  const n = Object.keys(subs).length;
  html("subs-summary", `${fmtInt(n)} subscribers` + (troubled ?
    `, <span class="bad" id="subs-troubled">${troubled} in trouble now</span>` : ", none in trouble"));
}

/* ------------------------------------------------------------------ latency */

/* The q-quantile of histogram rows [[upper_ns, count], ...]: a bucket's upper bound. */
function quantile(rows, total, q) {
  if (!total) return null;
  const want = Math.ceil(q * total);
  let seen = 0;
  for (const [ub, n] of rows) {
    seen += n;
    if (seen >= want) return ub;
  }
  return rows.length ? rows[rows.length - 1][0] : null;
}

/* Histogram `a` minus `b` (same buckets, by upper bound). */
function histDiff(a, b) {
  const old = new Map((b || []).map(([ub, n]) => [ub, n]));
  return (a || []).map(([ub, n]) => [ub, Math.max(0, n - (old.get(ub) || 0))]);
}

const markers = {
  id: "asterMarkers",
  afterDatasetsDraw(chart) {
    const m = chart.$asterMarkers;
    if (!m) return;
    const {ctx, chartArea, scales} = chart;
    ctx.save();
    ctx.font = "11px system-ui, sans-serif";
    m.forEach(([label, index, color], i) => {
      if (index === null || index < 0) return;
      const x = scales.x.getPixelForValue(index);
      ctx.strokeStyle = color;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(x, chartArea.top);
      ctx.lineTo(x, chartArea.bottom);
      ctx.stroke();
      ctx.fillStyle = color;
      ctx.fillText(label, x + 3, chartArea.top + 12 + 12 * i);
    });
    ctx.restore();
  },
};

function makeCharts() {
  if (state.charts.hist || typeof Chart === "undefined") return;
  const grid = {color: "#2a333d"}, ticks = {color: "#8b97a3"};
  state.charts.hist = new Chart($("lat-hist"), {
    type: "bar",
    data: {labels: [], datasets: [
      {label: "since start", data: [], backgroundColor: "#4aa3ff", order: 2},
      {label: "last 10 s", type: "line", data: [], borderColor: "#e8a33d", pointRadius: 0, order: 1},
    ]},
    options: {animation: false, responsive: true, maintainAspectRatio: false,
      scales: {x: {grid, ticks: Object.assign({maxRotation: 60}, ticks), title: {display: true, text: "latency (bucket upper bound)", color: "#8b97a3"}},
        y: {type: "logarithmic", grid, ticks, title: {display: true, text: "frames", color: "#8b97a3"}}},
      plugins: {legend: {labels: {color: "#d6dde4"}}}},
    plugins: [markers],
  });
  state.charts.time = new Chart($("lat-time"), {
    type: "line",
    data: {labels: [], datasets: [
      {label: "p50", data: [], borderColor: "#2fbf71", pointRadius: 0},
      {label: "p99", data: [], borderColor: "#4aa3ff", pointRadius: 0},
      {label: "p99.9", data: [], borderColor: "#e8a33d", pointRadius: 0},
      {label: "max", data: [], borderColor: "#e5484d", pointRadius: 0},
    ]},
    options: {animation: false, responsive: true, maintainAspectRatio: false, spanGaps: true,
      scales: {x: {grid, ticks}, y: {type: "logarithmic", grid, ticks, title: {display: true, text: "\u00b5s", color: "#8b97a3"}}},
      plugins: {legend: {labels: {color: "#d6dde4"}}}},
  });
}

/* The latency summary of a stats reply, with its histogram (latency_histogram). */
function latencyOf(reply) {
  if (!reply || !reply.ok || !reply.stats || !reply.stats.latency) return null;
  return Object.assign({histogram: reply.stats.latency_histogram || []}, reply.stats.latency);
}

/* Record one stats reply's second of latency for the over-time chart. */
function noteLatency(reply) {
  const lat = latencyOf(reply);
  const prev = latencyOf(state.stats.length > 1 ? state.stats[state.stats.length - 2] : null);
  if (!lat || !lat.histogram) return;
  const d = histDiff(lat.histogram, prev ? prev.histogram : []);
  const total = d.reduce((a, [, n]) => a + n, 0);
  const nz = d.filter(([, n]) => n > 0);
  state.latTime.push({t: new Date().toLocaleTimeString("en-GB"),
    p50: quantile(d, total, 0.5), p99: quantile(d, total, 0.99), p999: quantile(d, total, 0.999),
    max: nz.length ? nz[nz.length - 1][0] : null});
  if (state.latTime.length > TIME_POINTS) state.latTime.shift();
}

function renderLatency() {
  const reply = state.stats.length ? state.stats[state.stats.length - 1] : null;
  const lat = latencyOf(reply);
  if (!lat) {
    html("lat-tiles", "");
    text("lat-note", reply ? "No latency figures: " + (reply.error ||
      "the dataplane's stats come from the health file (control connection down)") : "Waiting for the dataplane's stats.");
    return;
  }
  const tiles = [["count", "frames", v => fmtInt(v)], ["p50_ns", "p50", fmtNs], ["p90_ns", "p90", fmtNs],
    ["p99_ns", "p99", fmtNs], ["p999_ns", "p99.9", fmtNs], ["max_ns", "max", fmtNs], ["mean_ns", "mean", fmtNs]];
  html("lat-tiles", tiles.map(([k, label, f]) =>
    `<div class="tile" data-c="${k}" data-v="${lat[k]}"><div class="label">${label}</div><div class="value">${f(lat[k])}</div></div>`).join(""));
  text("lat-note", "Percentiles are bucket upper bounds (never below the true value, at most 12.5 % above). " +
    "Dataplane stats of " + new Date().toLocaleTimeString("en-GB") + ".");
  makeCharts();
  if (!state.charts.hist) return;
  const rows = lat.histogram || [];
  const old = state.stats.length > 10 ? latencyOf(state.stats[state.stats.length - 11]) : null;
  const recent = histDiff(rows, old ? old.histogram : []);
  const h = state.charts.hist;
  h.data.labels = rows.map(([ub]) => fmtNs(ub));
  h.data.datasets[0].data = rows.map(([, n]) => n);
  h.data.datasets[1].data = recent.map(([, n]) => n || null);
  const at = ns => rows.findIndex(([ub]) => ub >= ns);
  h.$asterMarkers = [["p50", at(lat.p50_ns), "#2fbf71"], ["p99", at(lat.p99_ns), "#4aa3ff"],
    ["p99.9", at(lat.p999_ns), "#e8a33d"], ["max", at(lat.max_ns), "#e5484d"]];
  h.update("none");
  const t = state.charts.time;
  t.data.labels = state.latTime.map(p => p.t);
  ["p50", "p99", "p999", "max"].forEach((k, i) => {
    t.data.datasets[i].data = state.latTime.map(p => p[k] === null ? null : p[k] / 1000);
  });
  t.update("none");
}

/* ------------------------------------------------------------------ history */

function who(e) {
  if (!e) return "-";
  if (e.identity !== undefined) return `${e.identity} from ${e.address}`;
  if (e.uid !== undefined) return `uid ${e.uid} (pid ${e.pid}) on the appliance`;
  return "not in the audit log";
}

function renderHistory() {
  const h = state.history;
  if (!h || !h.ok) {
    html("hist-versions", `<tr><td class="empty">${esc(h ? h.error : "loading")}</td></tr>`);
    return;
  }
  let t = '<thead><tr><th class="n">version</th><th>applied</th><th>by</th><th>command</th></tr></thead><tbody>';
  for (const v of h.versions)
    t += `<tr data-version="${v.version}"${v.version === state.selected ? ' class="selected"' : ""}>` +
      `<td class="n">${v.version}</td><td>${esc(v.applied_at)}<br><span class="note">${ago(v.applied_at)}</span></td>` +
      `<td data-c="by" class="wrap">${esc(who(v))}</td><td class="mono wrap">${esc(v.command || "")}</td></tr>`;
  html("hist-versions", t + (h.versions.length ? "" : '<tr><td colspan="4" class="empty">no version yet</td></tr>') + "</tbody>");
  t = '<thead><tr><th>time</th><th>by</th><th>command</th><th>result</th><th class="n">version</th></tr></thead><tbody>';
  for (const a of h.audit || []) {
    const cls = a.result === "ok" ? "okc" : a.result === "denied" ? "bad" : a.result === "no changes" ? "" : "warn";
    t += `<tr><td>${esc(a.time)}</td><td class="wrap">${esc(who(a))}</td><td class="mono wrap">${esc(a.command)}</td>` +
      `<td class="wrap ${cls}">${esc(a.result)}</td><td class="n">${esc(a.before === a.after ? a.before : a.before + " \u2192 " + a.after)}</td></tr>`;
  }
  html("hist-audit", t + "</tbody>");
}

function showVersion(v) {
  state.selected = v;
  renderHistory();
  text("hist-diff-title", "Version " + v);
  getJSON("/api/v1/history/" + v).then(r => {
    if (!r.ok) {
      text("hist-diff", r.error);
      return;
    }
    text("hist-diff-title", `Version ${r.version} against ${r.previous === null ? "an empty table" : "version " + r.previous}: ${r.changes} change${r.changes === 1 ? "" : "s"}`);
    html("hist-diff", r.diff.split("\n").filter(l => l).map(l => {
      const cls = l[0] === "+" ? "add" : l[0] === "-" ? "del" : l[0] === "~" ? "chg" : "";
      return `<span class="${cls}">${esc(l)}</span>`;
    }).join("\n") || "no changes");
    text("hist-yaml", r.yaml);
  }).catch(e => text("hist-diff", "cannot load: " + e));
}

function loadHistory(older) {
  let url = "/api/v1/history?limit=50";
  if (older && state.history && state.history.versions.length)
    url += "&before=" + state.history.versions[state.history.versions.length - 1].version;
  return getJSON(url).then(r => {
    if (older && r.ok && state.history && state.history.ok)
      r.versions = state.history.versions.concat(r.versions);
    state.history = r;
    renderHistory();
    const doc = latest();
    if (doc) renderOverview(doc);
  }).catch(() => {});
}

/* ------------------------------------------------------------------ pages */

function render() {
  const doc = latest();
  if (!doc) return;
  renderHeader(doc);
  if (state.page === "overview") renderOverview(doc);
  else if (state.page === "feeds") renderFeeds(doc);
  else if (state.page === "subscribers") renderSubscribers(doc);
}

function show(page) {
  if (!$("page-" + page)) page = "overview";
  state.page = page;
  document.querySelectorAll(".page").forEach(p => p.classList.toggle("active", p.id === "page-" + page));
  document.querySelectorAll("nav a").forEach(a => a.classList.toggle("active", a.dataset.page === page));
  render();
  if (page === "latency") renderLatency();
  if (page === "history") loadHistory(false);
}

function onStatus(doc) {
  state.docs.push(doc);
  while (state.docs.length > 2 && doc.time_ms - state.docs[0].time_ms > KEEP_MS) state.docs.shift();
  state.lastEvent = Date.now();
  renderLive();
  noteFeedRates(doc);
  if (doc.store_version !== state.version) {
    state.version = doc.store_version;
    loadHistory(false);
    getJSON("/api/v1/feeds").then(r => { state.feedsCfg = r; }).catch(() => {});
  }
  render();
}

function onStats(reply) {
  state.stats.push(reply);
  if (state.stats.length > 12) state.stats.shift();
  noteLatency(reply);
  if (state.page === "latency") renderLatency();
}

function start() {
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  $("subs-filter").addEventListener("input", render);
  $("subs").addEventListener("click", e => {
    const th = e.target.closest("th[data-sort]");
    if (!th) return;
    const k = th.dataset.sort;
    state.sort = {key: k, desc: state.sort.key === k ? !state.sort.desc : k !== "name"};
    render();
  });
  $("hist-versions").addEventListener("click", e => {
    const tr = e.target.closest("tr[data-version]");
    if (tr) showVersion(Number(tr.dataset.version));
  });
  $("hist-more").addEventListener("click", () => loadHistory(true));
  setInterval(renderLive, 500);
  const es = new EventSource("/events");
  es.addEventListener("status", e => onStatus(JSON.parse(e.data)));
  es.addEventListener("stats", e => onStats(JSON.parse(e.data)));
  es.onerror = () => renderLive();
  show(location.hash.slice(1) || "overview");
}

document.addEventListener("DOMContentLoaded", start);
