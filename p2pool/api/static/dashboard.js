// The dashboard shell: shows a few of the node's numbers from /api/status, refreshed every few
// seconds and whenever the live feed (/api/events) says something happened.
"use strict";

const REFRESH_MS = 5000;

function si(value, unit) {
  const prefixes = ["", "k", "M", "G", "T", "P", "E"];
  let i = 0;
  while (Math.abs(value) >= 1000 && i < prefixes.length - 1) { value /= 1000; i += 1; }
  return `${value.toFixed(i ? 2 : 0)} ${prefixes[i]}${unit}`;
}

function show(id, text) {
  document.getElementById(id).textContent = text;
}

function render(status) {
  show("network", status.network);
  const health = document.getElementById("health");
  health.textContent = status.healthy ? "healthy" : `unhealthy: ${(status.problems || []).join("; ")}`;
  health.className = status.healthy ? "badge ok" : "badge bad";
  const sharechain = status.sharechain || {};
  show("shares", String(sharechain.shares ?? 0));
  show("height", sharechain.height === null || sharechain.height === undefined ? "–" : String(sharechain.height));
  show("hashrate", si(status.hashrate || 0, "H/s"));
  show("miners", String(status.miners_connected ?? 0));
  show("peers", String(status.peers ?? 0));
  show("blocks", String(status.blocks_found ?? 0));
  show("updated", `updated ${new Date().toLocaleTimeString()}`);
}

async function refresh() {
  try {
    const reply = await fetch("/api/status", { cache: "no-store" });
    if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
    render(await reply.json());
  } catch (error) {
    show("updated", `the node does not answer (${error.message}); retrying`);
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
if (window.EventSource) {
  const events = new EventSource("/api/events");
  events.onmessage = refresh;
  for (const kind of ["share", "block", "peer", "worker", "stats"]) events.addEventListener(kind, refresh);
}
