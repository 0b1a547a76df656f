// The situation dashboard: GET /api/overview, the communications graph, live alerts (SSE).
import { api } from "./api.js";
import { $, barList, element, field, flowText, formatTime, termClause } from "./dom.js";
import { t } from "./i18n.js";
import { timeChart } from "./chart.js";
import { communicationsGraph, linksFromFlows } from "./graph.js";
import { rangeParams } from "./time.js";
import { severityBadge } from "./severity.js";

const LIVE_MAX = 50;
const REFRESH_MS = 30_000;
const state = { wired: false, stream: null, timer: null, live: [], generation: 0 };

function hunt(clause) {
  location.hash = `#/hunt/${encodeURIComponent(clause)}`;
}

function renderSeverity(bySeverity) {
  const buckets = ["4", "3", "2", "1"].map((level) => ({ key: level,
    count: bySeverity?.[level] ?? 0 }));
  $("severity-bars").replaceChildren(...barList(buckets,
    (level) => hunt(`event.kind:alert AND event.severity:${level}`),
    (level) => t(`severity.${level}`)));
  $("severity-bars").querySelectorAll("li").forEach((item, i) => {
    item.classList.add(`level-${buckets[i].key}`);
  });
}

function renderThreat(level) {
  const badge = $("threat-level");
  badge.textContent = t(`threat.${level}`);
  badge.className = `threat-badge threat-${level}`;
  badge.dataset.level = level;
}

function renderOverview(overview) {
  renderThreat(overview.threat_level);
  $("total-events").textContent = overview.events.toLocaleString();
  $("total-alerts").textContent = overview.alerts.toLocaleString();
  renderSeverity(overview.alerts_by_severity);
  const chart = $("alert-timeline");
  chart.replaceChildren(timeChart(overview.alert_timeline, { label: t("dashboard.timeline"),
    width: chart.clientWidth - 16, height: Math.max(100, chart.clientHeight - 8) }));
  $("protocol-bars").replaceChildren(...barList(overview.protocols,
    (key) => hunt(termClause("event.dataset", key))));
  $("top-rules").replaceChildren(...barList(overview.top_rules,
    (key) => hunt(`event.kind:alert AND ${termClause("rule.name", key)}`)));
  $("top-sources").replaceChildren(...barList(overview.top_sources,
    (key) => hunt(termClause("source.ip", key))));
  $("top-destinations").replaceChildren(...barList(overview.top_destinations,
    (key) => hunt(termClause("destination.ip", key))));
}

async function loadGraph(range) {
  const [flows, hosts] = await Promise.all([
    api.get("/api/events", { q: "event.dataset:flow", size: 1000, ...range }),
    api.get("/api/events/terms", { field: "source.ip", size: 40, ...range }),
  ]);
  const links = linksFromFlows(flows.data);
  $("graph-empty").hidden = links.length > 0;
  $("comm-graph").replaceChildren(communicationsGraph(links, hosts.data));
}

async function refresh() {
  const generation = ++state.generation;
  const range = rangeParams($("dashboard-range").value);
  const [overview] = await Promise.all([api.get("/api/overview", range), loadGraph(range)]);
  if (generation !== state.generation) return;
  renderOverview(overview);
  $("dashboard-updated").textContent = t("dashboard.updated",
    { time: new Date().toLocaleTimeString([], { hour12: false }) });
}

// ---- live alert feed -------------------------------------------------------------------

function liveItem(alert) {
  const item = element("li", "live-item");
  const link = element("a", "live-link");
  link.href = `#/alerts/${encodeURIComponent(field(alert, "event.id") ?? "")}`;
  link.append(severityBadge(field(alert, "event.severity")),
    element("span", "live-time", formatTime(alert["@timestamp"])),
    element("span", "live-rule", field(alert, "rule.name") ?? field(alert, "event.dataset")),
    element("span", "live-flow", flowText(alert)));
  item.append(link);
  return item;
}

function renderLive() {
  $("live-feed").replaceChildren(...state.live.map(liveItem));
  $("live-empty").hidden = state.live.length > 0;
}

function onLiveAlert(message) {
  try {
    state.live.unshift(JSON.parse(message.data));
  } catch {
    return; // a keep-alive or a malformed line: nothing to show
  }
  state.live.length = Math.min(state.live.length, LIVE_MAX);
  renderLive();
}

function setLiveState(connected) {
  $("live-state").classList.toggle("on", connected);
  $("live-state").title = t(connected ? "dashboard.live_on" : "dashboard.live_off");
}

function openStream() {
  if (state.stream) return;
  state.stream = new EventSource("/api/stream/alerts");
  state.stream.addEventListener("message", onLiveAlert);
  state.stream.addEventListener("open", () => setLiveState(true));
  // EventSource reconnects by itself; a refused session surfaces as a 401 on the next refresh.
  state.stream.addEventListener("error", () => setLiveState(false));
}

// ---- view contract ---------------------------------------------------------------------

function showFailure(err) {
  $("app-error").textContent = t("error.load", { message: err.message });
  $("app-error").hidden = false;
}

async function refreshSafely() {
  try {
    await refresh();
    $("app-error").hidden = true;
  } catch (err) {
    showFailure(err);
  }
}

export function init() {
  openStream();
  if (state.wired) return;
  state.wired = true;
  $("dashboard-range").addEventListener("change", refreshSafely);
  $("dashboard-refresh").addEventListener("click", refreshSafely);
}

export function show() {
  renderLive();
  refreshSafely();
  clearInterval(state.timer);
  state.timer = setInterval(() => !document.hidden && refreshSafely(), REFRESH_MS);
}

export function hide() {
  clearInterval(state.timer);
}

export function stop() {
  hide();
  state.stream?.close();
  state.stream = null;
  state.live = [];
}
