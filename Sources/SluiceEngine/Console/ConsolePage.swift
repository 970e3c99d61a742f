import Foundation

/// The console page served at `GET /` on the admin listener: one self-contained HTML document with
/// its script and styles inline (no CDN, no build step, works offline). It follows `/admin/events`
/// and draws each snapshot: the process, the live streams (sortable; slow and stuck ones flagged),
/// each route's figures, the chains with their filters' live figures, and the reload status with a
/// reload button. Edit it here; `ConsolePageTests` and the browser test check what it draws.
enum ConsolePage {
    /// The page with `csrfToken` (echoed by the reload button in `x-sluice-csrf`) and `nonce` (the
    /// Content-Security-Policy nonce of its one script and one style element) filled in.
    static func html(csrfToken: String, nonce: String) -> String {
        template.replacingOccurrences(of: "__CSRF__", with: csrfToken).replacingOccurrences(of: "__NONCE__", with: nonce)
    }

    private static let template = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="sluice-csrf" content="__CSRF__">
<title>Sluice console</title>
<style nonce="__NONCE__">
:root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#6b7385; --line:#e3e6ec; --ok:#2f9e62; --warn:#d98b16;
  --bad:#d2433a; --info:#3d6fd8; --violet:#8a55d6; --grey:#9aa1ae; --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display:flex; flex-wrap:wrap; align-items:center; gap:18px; padding:12px 22px; background:#1d2330; color:#eef1f6; }
header h1 { font-size:18px; margin:0; letter-spacing:.5px; }
header .fact { display:flex; flex-direction:column; font-size:12px; color:#aab2c2; }
header .fact b { color:#fff; font-size:14px; font-weight:600; }
.pill { padding:2px 9px; border-radius:10px; font-size:12px; font-weight:600; background:var(--grey); color:#fff; }
.pill.live { background:var(--ok); } .pill.down { background:var(--bad); } .pill.draining { background:var(--warn); }
main { padding:16px 22px; display:grid; grid-template-columns: minmax(0, 1fr); gap:16px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 16px; }
h2 { font-size:15px; margin:0 0 10px; display:flex; gap:8px; align-items:baseline; }
h2 small { color:var(--muted); font-weight:400; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th { text-align:left; color:var(--muted); font-weight:600; border-bottom:1px solid var(--line); padding:5px 8px; cursor:pointer; user-select:none; white-space:nowrap; }
th.sorted::after { content:" \25BE"; } th.sorted.asc::after { content:" \25B4"; }
td { padding:5px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
td.mono { font-family:var(--mono); font-size:12px; }
tr.slow td { background:#fff6e5; } tr.stuck td { background:#fde8e6; }
tr.stuck td:first-child { box-shadow: inset 3px 0 var(--bad); } tr.slow td:first-child { box-shadow: inset 3px 0 var(--warn); }
.state { font-size:12px; padding:1px 7px; border-radius:9px; background:#eef1f6; }
.state.streaming { background:#e3f4ea; color:#1f6e44; } .state.queued { background:#fff1d6; color:#8a5a06; }
.state.paused { background:#fde8e6; color:#a12c25; } .state.connecting, .state.waiting_for_head { background:#e6edfb; color:#2c4f9c; }
.flag { margin-left:6px; font-size:11px; font-weight:700; color:var(--bad); } .flag.slow { color:var(--warn); }
.empty { color:var(--muted); margin:4px 0; }
.grid { display:grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap:12px; }
.route { border:1px solid var(--line); border-radius:6px; padding:10px 12px; }
.route h3, .chain h3 { margin:0 0 6px; font-size:14px; } .route h3 small, .chain h3 small { color:var(--muted); font-weight:400; }
.figures { display:flex; flex-wrap:wrap; gap:4px 16px; margin:4px 0 8px; }
.figure { display:flex; flex-direction:column; } .figure span { color:var(--muted); font-size:11px; } .figure b { font-size:15px; font-variant-numeric: tabular-nums; }
.bar { display:flex; height:14px; border-radius:4px; overflow:hidden; background:#eef1f6; margin:3px 0; }
.bar div { height:100%; min-width:0; }
.legend { display:flex; flex-wrap:wrap; gap:2px 12px; font-size:11px; color:var(--muted); }
.legend i { display:inline-block; width:9px; height:9px; border-radius:2px; margin-right:4px; vertical-align:-1px; }
.c-queue { background:var(--warn); } .c-connect { background:var(--violet); } .c-head { background:var(--info); } .c-first_content { background:var(--ok); }
.c-completed { background:var(--ok); } .c-rejected { background:var(--warn); } .c-failed { background:var(--bad); }
.c-timed_out { background:var(--violet); } .c-truncated { background:#e0662b; } .c-client_gone { background:var(--grey); }
.label { font-size:11px; color:var(--muted); margin-top:6px; }
svg.spark { width:100%; height:46px; display:block; background:#fafbfc; border-radius:4px; }
.chain { margin-bottom:12px; }
.flow { display:flex; flex-wrap:wrap; align-items:stretch; gap:6px; }
.filter { position:relative; border:1px solid var(--line); border-radius:6px; padding:8px 10px; min-width:150px; max-width:260px; background:#fbfcfd; }
.filter + .filter::before { content:"\2192"; position:absolute; left:-12px; top:12px; color:var(--muted); font-size:12px; }
.filter .type { font-weight:600; } .filter .name { color:var(--muted); font-size:11px; }
.filter .config { color:var(--muted); font-size:11px; font-family:var(--mono); margin-top:2px; overflow-wrap:anywhere; }
.filter dl { display:grid; grid-template-columns: auto auto; gap:1px 10px; margin:6px 0 0; font-size:12px; }
.filter dt { color:var(--muted); } .filter dd { margin:0; text-align:right; font-variant-numeric: tabular-nums; font-weight:600; }
.filter.hot { border-color:var(--warn); background:#fffaf0; } .filter.alarm { border-color:var(--bad); background:#fff5f4; }
.breaker { margin-top:6px; font-size:12px; }
.breaker .badge { font-weight:700; padding:0 6px; border-radius:8px; color:#fff; background:var(--ok); }
.breaker[data-state=open] .badge { background:var(--bad); } .breaker[data-state=half_open] .badge { background:var(--warn); }
.history { display:flex; gap:1px; margin-top:3px; height:8px; }
.history span { flex:1; border-radius:1px; background:#e3e6ec; } .history .s0 { background:#bfe3cd; } .history .s1 { background:var(--warn); } .history .s2 { background:var(--bad); }
.workers { display:flex; gap:4px; } .worker { font-family:var(--mono); font-size:11px; padding:1px 5px; border-radius:4px; background:#2c3446; }
.worker.lagging { background:var(--bad); }
.meter { width:90px; height:6px; background:#3a4254; border-radius:3px; overflow:hidden; margin-top:3px; } .meter div { height:100%; background:#6fcf97; }
button { font:inherit; padding:6px 14px; border-radius:6px; border:1px solid var(--info); background:var(--info); color:#fff; cursor:pointer; }
button:disabled { opacity:.6; cursor:default; }
.result { margin-top:8px; font-family:var(--mono); font-size:12px; white-space:pre-wrap; }
.result.bad { color:var(--bad); } .result.good { color:var(--ok); }
</style>
</head>
<body data-snapshots="0">
<header>
  <h1>Sluice</h1>
  <span id="link" class="pill">connecting</span>
  <div class="fact"><span>version</span><b id="version">-</b></div>
  <div class="fact"><span>uptime</span><b id="uptime">-</b></div>
  <div class="fact"><span>chain</span><b id="chain-version">-</b></div>
  <div class="fact"><span>connections</span><b id="connections">-</b><div class="meter"><div id="connections-meter"></div></div></div>
  <div class="fact"><span>streams</span><b id="active-streams">-</b></div>
  <div class="fact"><span>workers, loop lag</span><div id="workers" class="workers"></div></div>
  <span id="draining" class="pill draining" hidden>draining</span>
</header>
<main>
  <section>
    <h2>Live streams <small id="stream-count"></small></h2>
    <table id="streams">
      <thead><tr>
        <th data-key="id">id</th><th data-key="route">route</th><th data-key="endpoint">endpoint</th><th data-key="state">state</th>
        <th data-key="age_ms" class="num">age</th><th data-key="ttft_ms" class="num">first token</th><th data-key="tokens" class="num">tokens</th>
        <th data-key="tps" class="num">tokens/s</th><th data-key="client_backlog" class="num">client backlog</th>
      </tr></thead>
      <tbody></tbody>
    </table>
    <p id="no-streams" class="empty">No stream in flight.</p>
  </section>
  <section>
    <h2>Routes <small>rates over the last minute; series over the last 15 minutes</small></h2>
    <div id="routes" class="grid"></div>
  </section>
  <section>
    <h2>Filters <small>each chain in file order: request hooks run left to right</small></h2>
    <div id="chains"></div>
  </section>
  <section>
    <h2>Reload</h2>
    <div id="reload-status"></div>
    <p><button id="reload-button" type="button">Reload the filter file</button></p>
    <div id="reload-result" class="result"></div>
  </section>
</main>
<script nonce="__NONCE__">
"use strict";
const csrfToken = document.querySelector('meta[name="sluice-csrf"]').content;
const $ = (id) => document.getElementById(id);
let snapshots = 0, sortKey = "age_ms", sortAscending = false, lastStreams = [];
const progress = new Map();            // stream id -> { tokens, since } to find stalled streams
const STALL_MS = 5000, SLOW_BACKLOG = 64 * 1024;

function make(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v; else if (k === "style") node.style.cssText = v; else if (k.startsWith("data-")) node.setAttribute(k, v); else node[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}
function svg(tag, attributes) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  return node;
}
function ms(v) {
  if (v === null || v === undefined) return "-";
  if (v >= 10000) return (v / 1000).toFixed(1) + " s";
  if (v >= 1000) return (v / 1000).toFixed(2) + " s";
  return (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + " ms";
}
function rate(v) { return v === null || v === undefined ? "-" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2); }
function bytes(v) { return v >= 1048576 ? (v / 1048576).toFixed(1) + " MiB" : v >= 1024 ? (v / 1024).toFixed(1) + " KiB" : v + " B"; }
function duration(s) {
  s = Math.floor(s); const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return d ? d + "d " + h + "h" : h ? h + "h " + m + "m" : m ? m + "m " + (s % 60) + "s" : s + "s";
}

function renderProcess(p) {
  $("version").textContent = p.version;
  $("uptime").textContent = duration(p.uptime_s);
  $("chain-version").textContent = "v" + p.chain_version + " \u00b7 " + p.chain_loaded_at.replace("T", " ").replace(/\.\d+Z$/, "Z");
  $("connections").textContent = p.open_connections + " / " + p.max_connections;
  $("connections-meter").style.width = Math.min(100, 100 * p.open_connections / Math.max(1, p.max_connections)) + "%";
  $("active-streams").textContent = p.active_streams + (p.streams_on_previous_chains ? " (" + p.streams_on_previous_chains + " on older chains)" : "");
  $("workers").replaceChildren(...p.workers.map(w => make("span", { class: "worker" + (w.lag_ms > 100 ? " lagging" : ""),
    title: "worker " + w.index + ": its event loop ran " + w.lag_ms + " ms late" }, "w" + w.index + " " + ms(w.lag_ms))));
  $("draining").hidden = !p.draining;
}

function judge(s, now, medianTPS) {
  const seen = progress.get(s.id);
  if (!seen || seen.tokens !== s.tokens) progress.set(s.id, { tokens: s.tokens, since: now });
  const still = now - progress.get(s.id).since;
  const moving = ["streaming", "paused", "waiting_for_head", "connecting", "response_head"].includes(s.state);
  if (s.state === "paused" || (moving && still >= STALL_MS && s.age_ms >= STALL_MS)) return "stuck";
  if (s.state === "queued" && s.age_ms >= STALL_MS) return "slow";
  if (s.client_backlog >= SLOW_BACKLOG) return "slow";
  if (medianTPS && s.tps !== null && s.tps < medianTPS / 2) return "slow";
  return "";
}

function renderStreams(streams) {
  const now = Date.now();
  for (const s of streams) {
    s.tps = s.ttft_ms !== null && s.tokens > 1 && s.age_ms > s.ttft_ms ? (s.tokens - 1) * 1000 / (s.age_ms - s.ttft_ms) : null;
  }
  const rates = streams.map(s => s.tps).filter(v => v !== null).sort((a, b) => a - b);
  const medianTPS = rates.length >= 3 ? rates[Math.floor(rates.length / 2)] : null;
  for (const s of streams) s.verdict = judge(s, now, medianTPS);
  const live = new Set(streams.map(s => s.id));
  for (const id of progress.keys()) if (!live.has(id)) progress.delete(id);
  lastStreams = streams;
  drawStreams();
}

function drawStreams() {
  const rank = { stuck: 0, slow: 1, "": 2 };
  const rows = lastStreams.slice().sort((a, b) => {
    const x = a[sortKey], y = b[sortKey];
    const order = x === y ? 0 : x === null || x === undefined ? 1 : y === null || y === undefined ? -1 : x < y ? -1 : 1;
    return (sortAscending ? order : -order) || rank[a.verdict] - rank[b.verdict];
  });
  document.querySelectorAll("#streams th").forEach(th => {
    th.classList.toggle("sorted", th.dataset.key === sortKey); th.classList.toggle("asc", th.dataset.key === sortKey && sortAscending);
  });
  $("streams").tBodies[0].replaceChildren(...rows.map(s => make("tr", { class: s.verdict, "data-id": s.id, "data-state": s.state, "data-verdict": s.verdict },
    make("td", { class: "mono", title: s.method + " " + s.path + " from " + s.client }, s.id.slice(0, 12),
      s.verdict ? make("span", { class: "flag " + s.verdict }, s.verdict === "stuck" ? "STUCK" : "SLOW") : null),
    make("td", {}, s.route), make("td", { class: "mono" }, s.endpoint || "-"),
    make("td", {}, make("span", { class: "state " + s.state }, s.state.replace(/_/g, " ")), s.attempt > 1 ? " #" + s.attempt : ""),
    make("td", { class: "num" }, ms(s.age_ms)), make("td", { class: "num" }, ms(s.ttft_ms)),
    make("td", { class: "num", "data-field": "tokens" }, s.tokens), make("td", { class: "num" }, rate(s.tps)),
    make("td", { class: "num", "data-field": "backlog" }, bytes(s.client_backlog)))));
  $("no-streams").hidden = rows.length > 0;
  const flagged = rows.filter(s => s.verdict).length;
  $("stream-count").textContent = rows.length + " in flight" + (flagged ? ", " + flagged + " slow or stuck" : "");
}

function stacked(parts, order, prefix) {
  const total = order.reduce((sum, k) => sum + (parts[k] || 0), 0);
  return make("div", { class: "bar" }, ...order.filter(k => parts[k] > 0).map(k =>
    make("div", { class: prefix + k, title: k.replace(/_/g, " ") + ": " + (prefix === "c-" && parts[k] < 1000 ? ms(parts[k]) : parts[k]) ,
      style: "width:" + (100 * parts[k] / total) + "%" })));
}
function legend(order, labels) {
  return make("div", { class: "legend" }, ...order.map(k => make("span", {}, make("i", { class: "c-" + k }), labels ? labels[k] : k.replace(/_/g, " "))));
}
function sparkline(points, index, colour, title) {
  const box = svg("svg", { class: "spark", viewBox: "0 0 300 46", preserveAspectRatio: "none" });
  const t = svg("title", {}); t.textContent = title; box.append(t);
  const values = points.map(p => p[index]).filter(v => v !== null);
  if (values.length < 2) {
    const note = svg("text", { x: "150", y: "27", "text-anchor": "middle", "font-size": "11", fill: "#9aa1ae" });
    note.textContent = "a point every 10 s; not enough yet";
    box.append(note);
    return box;
  }
  const top = Math.max(...values) || 1;
  const x = (p) => 300 + p[0] / 900 * 300, y = (v) => 42 - 38 * v / top;
  const d = points.filter(p => p[index] !== null).map((p, i) => (i ? "L" : "M") + x(p).toFixed(1) + " " + y(p[index]).toFixed(1)).join(" ");
  box.append(svg("path", { d, fill: "none", stroke: colour, "stroke-width": "1.5" }));
  return box;
}

function renderRoutes(routes) {
  const outcomeOrder = ["completed", "rejected", "failed", "timed_out", "truncated", "client_gone"];
  const partOrder = ["queue", "connect", "head", "first_content"];
  const partLabels = { queue: "queue", connect: "connect", head: "response head", first_content: "first content" };
  $("routes").replaceChildren(...routes.map(r => {
    const shares = Object.values(r.outcomes).some(v => v > 0) ? r.outcomes : r.outcome_totals;
    const parts = {}; for (const k of partOrder) parts[k] = r.ttft_parts_ms[k] || 0;
    const partsTitle = partOrder.map(k => partLabels[k] + " " + ms(r.ttft_parts_ms[k])).join(", ");
    const bar = stacked(parts, partOrder, "c-"); bar.title = "mean time to first token by part: " + partsTitle;
    return make("div", { class: "route", "data-route": r.name },
      make("h3", {}, r.name, " ", make("small", {}, r.path_prefix + " \u2192 " + r.chain + " \u2192 " + r.upstream)),
      make("div", { class: "figures" },
        figure("active", r.active, "active"), figure("requests/s", rate(r.requests_per_s), "rps"),
        figure("tokens/s", rate(r.tokens_per_s), "tps"), figure("TTFT p50", ms(r.ttft_ms.p50), "p50"),
        figure("p95", ms(r.ttft_ms.p95), "p95"), figure("p99", ms(r.ttft_ms.p99), "p99"), figure("requests", r.requests, "requests")),
      make("div", { class: "label" }, "time to first token, mean by part"), bar, legend(partOrder, partLabels),
      make("div", { class: "label" }, "outcomes"), stacked(Object.fromEntries(outcomeOrder.map(k => [k, shares[k] || 0])), outcomeOrder, "c-"),
      legend(outcomeOrder.filter(k => shares[k] > 0).map(k => k), null),
      make("div", { class: "label" }, "requests/s, 15 min"), sparkline(r.series, 1, "#3d6fd8", "requests per second"),
      make("div", { class: "label" }, "TTFT p95, 15 min"), sparkline(r.series, 2, "#d98b16", "time to first token p95"));
  }));
}
function figure(label, value, key) { return make("div", { class: "figure", "data-figure": key }, make("span", {}, label), make("b", {}, value)); }

const figureNames = {
  sluice_rate_limited_total: "rate limited", sluice_admission_queue_length: "queue length", sluice_admission_in_flight: "in flight",
  sluice_admission_admitted_total: "admitted", sluice_admission_queued_total: "queued (total)", sluice_admission_shed_total: "shed",
  sluice_connection_manager_active_streams: "streams held", sluice_connection_manager_refused_total: "refused",
  sluice_connection_manager_max_age_total: "ended at max age", sluice_retries_total: "retries", sluice_retry_budget_refusals_total: "budget refusals",
  sluice_circuit_breaker_rejected_total: "rejected (all open)", sluice_slow_clients_cut_total: "slow clients cut", sluice_timeouts_total: "timeouts",
};
const liveNames = { buckets: "buckets", buckets_near_empty: "near empty (<10%)", lowest_bucket_percent: "lowest bucket, % full",
  retrying: "retrying now", budget_allowance: "budget allows", requests_in_flight: "requests in flight",
  longest_wait_ms: "longest wait, ms" };
function figureKey(f) {
  const extra = Object.values(f.labels);
  return f.metric.replace(/^sluice_/, "").replace(/_total$/, "") + (extra.length ? "." + extra.join(".") : "");
}
function configText(config) {
  return Object.entries(config).map(([k, v]) => k + " " + (v !== null && typeof v === "object"
    ? Object.entries(v).map(([a, b]) => a + "=" + (b !== null && typeof b === "object" ? JSON.stringify(b) : b)).join(" ") : v)).join(" \u00b7 ");
}
function renderChains(chains) {
  $("chains").replaceChildren(...chains.map(c => make("div", { class: "chain", "data-chain": c.name },
    make("h3", {}, c.name, " ", make("small", {}, c.routes.length ? "routes: " + c.routes.join(", ") : "no route uses it")),
    c.filters.length === 0 ? make("p", { class: "empty" }, "No filter: requests pass through.") :
    make("div", { class: "flow" }, ...c.filters.map(f => {
      const figures = f.figures.slice().sort((a, b) => figureKey(a).localeCompare(figureKey(b)));
      const open = f.breakers.some(b => b.state === "open");
      const queue = f.figures.find(x => x.metric === "sluice_admission_queue_length");
      const nearEmpty = f.live.find(x => x.name === "buckets_near_empty");
      const hot = (queue && queue.value > 0) || (nearEmpty && nearEmpty.value > 0);
      return make("div", { class: "filter" + (open ? " alarm" : hot ? " hot" : ""), "data-filter": f.name, "data-type": f.type },
        make("div", { class: "type" }, f.type), f.name !== f.type ? make("div", { class: "name" }, f.name) : null,
        f.config && Object.keys(f.config).length ? make("div", { class: "config", title: JSON.stringify(f.config) }, configText(f.config)) : null,
        f.live.length ? make("dl", { class: "live" }, ...f.live.flatMap(x => [
          make("dt", {}, liveNames[x.name] || x.name.replace(/_/g, " ")), make("dd", { "data-figure": "live." + x.name }, x.value)])) : null,
        figures.length ? make("dl", {}, ...figures.flatMap(x => [
          make("dt", {}, (figureNames[x.metric] || x.metric) + (Object.keys(x.labels).length ? " (" + Object.values(x.labels).join(", ").replace(/_/g, " ") + ")" : "")),
          make("dd", { "data-figure": figureKey(x) }, x.value)])) : null,
        ...f.breakers.map(b => make("div", { class: "breaker", "data-endpoint": b.endpoint, "data-state": b.state },
          make("span", { class: "mono" }, b.endpoint), " ", make("span", { class: "badge" }, b.state.replace("_", "-")),
          " opened " + b.opened + "\u00d7",
          make("div", { class: "history", title: "state every reading, oldest first" },
            ...b.history.map(s => make("span", { class: s === null ? "" : "s" + s }))))));
    })))));
}

function renderReload(r) {
  const last = r.last;
  $("reload-status").replaceChildren(
    make("div", {}, "file ", make("code", {}, r.path), " \u00b7 " + r.succeeded + " succeeded, " + r.failed + " failed"),
    last ? make("div", { class: "result " + (last.ok ? "good" : "bad"), "data-last-reload": last.ok ? "ok" : "failed" },
      "last reload " + last.at + ": " + (last.ok ? "version " + last.version + " in force" : "failed; the running chain stays in force\n" + last.errors.join("\n")))
      : make("div", { class: "empty" }, "not reloaded since start"));
}

function render(snapshot) {
  snapshots += 1;
  document.body.dataset.snapshots = snapshots;
  renderProcess(snapshot.process);
  renderStreams(snapshot.streams);
  renderRoutes(snapshot.routes);
  renderChains(snapshot.chains);
  renderReload(snapshot.reload);
}

document.querySelectorAll("#streams th").forEach(th => th.addEventListener("click", () => {
  if (sortKey === th.dataset.key) sortAscending = !sortAscending; else { sortKey = th.dataset.key; sortAscending = false; }
  drawStreams();
}));

$("reload-button").addEventListener("click", async () => {
  const button = $("reload-button"), out = $("reload-result");
  button.disabled = true; out.className = "result"; out.textContent = "reloading\u2026";
  try {
    const answer = await fetch("/admin/reload", { method: "POST", headers: { "x-sluice-csrf": csrfToken }, credentials: "same-origin" });
    const body = await answer.json().catch(() => ({}));
    if (answer.ok) { out.className = "result good"; out.textContent = "version " + body.version + " in force"; }
    else { out.className = "result bad"; out.textContent = (body.error && body.error.message || answer.status) + (body.error && body.error.errors ? "\n" + body.error.errors.join("\n") : ""); }
  } catch (e) { out.className = "result bad"; out.textContent = String(e); }
  button.disabled = false;
});

const feed = new EventSource("/admin/events");
feed.addEventListener("open", () => { $("link").textContent = "live"; $("link").className = "pill live"; });
feed.addEventListener("error", () => { $("link").textContent = "reconnecting"; $("link").className = "pill down"; });
feed.addEventListener("snapshot", (e) => render(JSON.parse(e.data)));
</script>
</body>
</html>
"""#
}
