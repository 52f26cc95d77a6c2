// The dashboard: the node's numbers, charts and lists from its read API, kept live by the push
// channel (/api/events): shares and blocks appear as they happen, stats come every few seconds.
"use strict";

const REFRESH_MS = 15000;
const SHARE_ROWS = 20;
const COIN = 100000000;

const $ = (id) => document.getElementById(id);

function si(value, unit, digits = 2) {
  const prefixes = ["", "k", "M", "G", "T", "P", "E", "Z"];
  let i = 0;
  value = Number(value) || 0;
  while (Math.abs(value) >= 1000 && i < prefixes.length - 1) { value /= 1000; i += 1; }
  return `${value.toFixed(i ? digits : 0)} ${prefixes[i]}${unit}`;
}

function number(value, digits = 4) {
  if (value === null || value === undefined) return "–";
  return Number(value).toPrecision(digits).replace(/\.?0+$/, "").replace(/\.?0+e/, "e");
}

function btc(sats) { return (sats / COIN).toFixed(8); }

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const units = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];
  for (const [unit, size] of units) if (seconds >= size || unit === "s") return `${(seconds / size).toFixed(seconds >= size * 10 ? 0 : 1)} ${unit}`;
  return "–";
}

function ago(epoch) {
  if (!epoch) return "–";
  return `${duration(Math.max(0, Date.now() / 1000 - epoch))} ago`;
}

function short(text, keep = 10) {
  return text && text.length > 2 * keep + 1 ? `${text.slice(0, keep)}…${text.slice(-keep)}` : (text || "");
}

function show(id, text) { $(id).textContent = text; }

function cell(text, className) {
  const td = document.createElement("td");
  if (className) {
    const span = document.createElement("span");
    span.className = className;
    span.textContent = text;
    td.appendChild(span);
  } else {
    td.textContent = text;
  }
  return td;
}

function minerCell(address) {
  const td = document.createElement("td");
  const link = document.createElement("a");
  link.className = "miner";
  link.href = `#miner=${encodeURIComponent(address)}`;
  link.textContent = short(address, 8);
  link.title = address;
  td.appendChild(link);
  return td;
}

function fill(tableId, rows, build) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    build(row).forEach((td) => tr.appendChild(td));
    return tr;
  }));
}

async function get(path) {
  const reply = await fetch(path, { cache: "no-store" });
  if (!reply.ok) {
    let message = `HTTP ${reply.status}`;
    try { message = (await reply.json()).error || message; } catch (_) { /* not JSON */ }
    const error = new Error(message);
    error.status = reply.status;
    throw error;
  }
  return reply.json();
}

// --- the node's numbers ---------------------------------------------------------------------------
function renderStatus(status) {
  show("network", status.network);
  const health = $("health");
  health.textContent = status.healthy ? "healthy" : `unhealthy: ${(status.problems || []).join("; ")}`;
  health.className = status.healthy ? "badge ok" : "badge bad";
  const sharechain = status.sharechain || {};
  show("shares", String(sharechain.shares ?? 0));
  show("height", sharechain.height === null || sharechain.height === undefined ? "–" : String(sharechain.height));
  show("miners", String(status.miners_connected ?? 0));
  show("peers", String(status.peers ?? 0));
}

function renderStats(stats) {
  show("pool-hashrate", si(stats.pool.hashrate["10m"], "H/s"));
  show("hashrate", si(stats.local.hashrate["10m"], "H/s"));
  show("window", `${stats.window.shares} / ${stats.window.uncles} / ${stats.window.orphans}`);
  show("share-difficulty", number(stats.share_difficulty));
  show("network-difficulty", number(stats.network_difficulty));
  show("effort", stats.effort === null ? "–" : `${stats.effort.toFixed(1)} %`);
  show("expected", duration(stats.expected_block_seconds));
  show("blocks", String(stats.blocks_found));
  show("updated", `updated ${new Date().toLocaleTimeString()}`);
}

function shareRow(share) {
  return [cell(String(share.height)), cell(short(share.hash)), minerCell(share.address),
    cell(share.status, `status ${share.status}`), cell(String(Array.isArray(share.uncles) ? share.uncles.length : share.uncles)),
    cell(ago(share.timestamp))];
}

function renderShares(page) { fill("share-list", page.items.slice(0, SHARE_ROWS), shareRow); }

function addShares(message) {
  const body = $("share-list").querySelector("tbody");
  for (const share of message.shares.slice().reverse().slice(0, SHARE_ROWS)) {
    const tr = document.createElement("tr");
    tr.className = "new";
    tr.dataset.hash = share.hash;
    shareRow(share).forEach((td) => tr.appendChild(td));
    body.insertBefore(tr, body.firstChild);
  }
  while (body.children.length > SHARE_ROWS) body.removeChild(body.lastChild);
}

function renderPayouts(payouts) {
  show("payouts-note", `if ${short(payouts.finder, 8)} finds block ${payouts.block_height} on share ${short(payouts.tip, 6)}: ${btc(payouts.total)} BTC`);
  fill("payouts", payouts.outputs, (o) => [minerCell(o.address), cell(btc(o.amount)), cell(`${(100 * o.window_share).toFixed(2)} %`)]);
}

function renderBlocks(page) {
  fill("block-list", page.items, (b) => [cell(String(b.height)), cell(short(b.hash)),
    cell(b.state === "confirmed" ? `confirmed (${b.confirmations})` : b.state, `status ${b.state}`),
    cell(btc(b.value)), cell(ago(b.time))]);
}

function workerRow(w) {
  return [cell(short(w.name, 12)), cell(w.online ? "yes" : "no", `status ${w.online ? "main" : "orphan"}`),
    cell(si(w.online ? w.hashrate : w.hashrate_1h, "H/s")), cell(String(w.shares)), cell(ago(w.last_share))];
}

function renderWorkers(page) { fill("worker-list", page.items, workerRow); }

function renderPeers(page) {
  fill("peer-list", page.items, (p) => [cell(short(p.id, 8)), cell(p.direction), cell(String(p.score)),
    cell(p.tip_height === null ? "–" : String(p.tip_height))]);
}

function renderHealth(health) {
  const stratum = health.services.stratum;
  if (stratum.url) show("stratum-url", stratum.url);
}

// --- charts ------------------------------------------------------------------------------------------
const charts = {};

function chart(id, series, data) {
  const element = $(id);
  const width = Math.max(240, element.clientWidth || 600);
  if (charts[id]) {
    charts[id].setSize({ width, height: 200 });
    charts[id].setData(data);
    return;
  }
  const options = {
    width, height: 200,
    series: [{}, ...series.map(([label, stroke]) => ({ label, stroke, width: 2, value: (u, v) => (v === null ? "–" : si(v, "H/s")) }))],
    axes: [{}, { values: (u, values) => values.map((v) => si(v, "H/s", 1)), size: 90 }],
    scales: { x: { time: true } },
  };
  charts[id] = new uPlot(options, data, element);
}

function renderHistory(history) {
  const times = history.pool.map((p) => p[0]);
  chart("chart", [["pool", "#f7931a"], ["local", "#2e7d32"]], [times, history.pool.map((p) => p[1]), history.local.map((p) => p[1])]);
}

// --- one miner ---------------------------------------------------------------------------------------
let currentMiner = null;

async function showMiner(address) {
  currentMiner = address;
  $("miner").hidden = false;
  show("miner-address", address);
  try {
    const miner = await get(`/api/miner/${encodeURIComponent(address)}`);
    if (currentMiner !== address) return;
    $("miner-error").hidden = true;
    show("miner-hashrate", si(miner.hashrate["1h"], "H/s"));
    show("miner-shares", String(miner.window.shares));
    show("miner-uncles", String(miner.window.uncles));
    show("miner-share", `${(100 * miner.window.share).toFixed(2)} %`);
    show("miner-expected", miner.expected_payout === null ? "–" : `${btc(miner.expected_payout)} BTC`);
    show("miner-paid", `${btc(miner.total_paid)} BTC in ${miner.payouts.length} blocks`);
    fill("miner-workers", miner.workers, workerRow);
    fill("miner-share-list", miner.shares, (s) => [cell(String(s.height)), cell(short(s.hash)), cell(s.status, `status ${s.status}`),
      cell(number(s.difficulty)), cell(ago(s.timestamp))]);
    if (miner.history.length) chart("miner-chart", [["hash rate", "#f7931a"]], [miner.history.map((p) => p[0]), miner.history.map((p) => p[1])]);
  } catch (error) {
    $("miner-error").hidden = false;
    show("miner-error", error.message);
  }
}

function route() {
  const match = /^#miner=(.+)$/.exec(window.location.hash);
  if (match) {
    const address = decodeURIComponent(match[1]);
    $("lookup-address").value = address;
    showMiner(address);
    $("miner").scrollIntoView();
  } else {
    currentMiner = null;
    $("miner").hidden = true;
  }
}

// --- refreshing ----------------------------------------------------------------------------------------
async function load(path, render) {
  try {
    render(await get(path));
  } catch (error) {
    if (error.status !== 503) show("updated", `the node does not answer ${path} (${error.message}); retrying`);
  }
}

const loaders = {
  status: () => load("/api/status", renderStatus),
  stats: () => load("/api/stats", renderStats),
  history: () => load("/api/stats/history", renderHistory),
  shares: () => load(`/api/shares?limit=${SHARE_ROWS}`, renderShares),
  payouts: () => load("/api/payouts", renderPayouts),
  blocks: () => load("/api/blocks?limit=20", renderBlocks),
  workers: () => load("/api/workers?limit=50", renderWorkers),
  peers: () => load("/api/peers?limit=50", renderPeers),
  health: () => load("/api/health/detailed", renderHealth),
};

const pending = new Set();
function soon(...names) {
  const first = pending.size === 0;
  names.forEach((name) => pending.add(name));
  if (first) setTimeout(() => { const names = [...pending]; pending.clear(); names.forEach((name) => loaders[name]()); }, 250);
}

function refreshAll() {
  Object.values(loaders).forEach((loader) => loader());
  if (currentMiner) showMiner(currentMiner);
}

function listen() {
  if (!window.EventSource) return;
  const events = new EventSource("/api/events");
  const live = $("live");
  events.onopen = () => { live.textContent = "live"; live.className = "badge ok"; };
  events.onerror = () => { live.textContent = "reconnecting…"; live.className = "badge bad"; };
  events.addEventListener("share", (e) => {
    addShares(JSON.parse(e.data).data);
    soon("status", "payouts", "workers");
    if (currentMiner) showMiner(currentMiner);
  });
  events.addEventListener("block", () => soon("blocks", "stats", "payouts"));
  events.addEventListener("peer", () => soon("peers", "status"));
  events.addEventListener("worker", () => soon("workers", "status"));
  events.addEventListener("stats", (e) => { renderStats(JSON.parse(e.data).data); soon("history", "blocks"); });
}

$("lookup").addEventListener("submit", (event) => {
  event.preventDefault();
  const address = $("lookup-address").value.trim();
  if (address) window.location.hash = `miner=${encodeURIComponent(address)}`;
});
$("miner-close").addEventListener("click", () => { window.location.hash = ""; });
$("copy-url").addEventListener("click", () => {
  const url = $("stratum-url").textContent;
  if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
});
window.addEventListener("hashchange", route);
window.addEventListener("resize", () => { soon("history"); });

refreshAll();
route();
listen();
setInterval(refreshAll, REFRESH_MS);
