// Liaowang console: the events view. Plain JS, no build step, no external resources.
// Event data comes from captured traffic and is hostile: it is only ever set as textContent.
"use strict";

const POLL_MS = 2000;
const PAGE_SIZE = 100;
const RANGES = { "15m": 900, "1h": 3600, "24h": 86400, all: null }; // seconds back from now
const BUCKET_S = { "15m": 30, "1h": 60, "24h": 1800, all: 3600 };

// Per dataset: [dotted field, label] pairs for the one-line summary.
const SUMMARY_FIELDS = {
  modbus: [["modbus.function_code", "fc="], ["modbus.function_name", ""],
    ["modbus.exception_code", "exc="], ["modbus.exception_name", ""],
    ["modbus.transaction_id", "tid="], ["modbus.unit_id", "unit="]],
  dnp3: [["dnp3.function_code", "fc="], ["dnp3.source_address", "src="],
    ["dnp3.destination_address", "dst="]],
  s7comm: [["s7comm.rosctr", "rosctr="], ["s7comm.function", "fn="],
    ["s7comm.userdata_group", "group="], ["s7comm.userdata_subfunction", "sub="]],
  iec104: [["iec104.apci_type", ""], ["iec104.type_id", "type="], ["iec104.cot", "cot="],
    ["iec104.common_address", "ca="]],
  enip: [["enip.command", "cmd="], ["enip.session_handle", "session="], ["cip.service", "cip="]],
  opcua: [["opcua.message_type", ""], ["opcua.service", "service="]],
  bacnet: [["bacnet.bvlc_function", "bvlc="], ["bacnet.apdu_type", "apdu="],
    ["bacnet.service", "service="]],
  gtpu: [["gtp.message_type", "type="], ["gtp.teid", "teid="]],
  gtpv2: [["gtpv2.message_type", "type="], ["gtpv2.teid", "teid="],
    ["gtpv2.sequence", "seq="], ["gtpv2.cause", "cause="]],
  pfcp: [["pfcp.message_type", "type="], ["pfcp.seid", "seid="], ["pfcp.sequence", "seq="],
    ["pfcp.cause", "cause="], ["pfcp.node_id", "node="]],
  ngap: [["ngap.procedure_code", "proc="], ["ngap.pdu_type", ""],
    ["ngap.ran_ue_ngap_id", "ran_ue="], ["ngap.amf_ue_ngap_id", "amf_ue="]],
  nas5gs: [["nas5gs.message_type", "type="], ["nas5gs.security_header_type", "sht="]],
  sbi: [["http.request.method", ""], ["url.path", ""], ["http.response.status_code", "status="],
    ["sbi.service", ""]],
  diameter: [["diameter.command_code", "cmd="], ["diameter.application_id", "app="],
    ["diameter.is_request", "req="], ["diameter.result_code", "result="]],
  flow: [["network.transport", ""], ["source.packets", "pkts→"], ["source.bytes", "bytes→"],
    ["destination.packets", "pkts←"], ["destination.bytes", "bytes←"], ["flow.end_reason", ""],
    ["gtp.teid", "teid="]],
  weird: [["weird.name", ""], ["weird.analyzer", "analyzer="], ["weird.detail", ""]],
};

const state = { query: "", range: "all", selectedId: null, generation: 0, timer: null };
const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// ---- data access ------------------------------------------------------------------------

function field(event, dotted) {
  if (dotted in event) return event[dotted];
  let node = event;
  for (const part of dotted.split(".")) {
    if (node === null || typeof node !== "object" || !(part in node)) return undefined;
    node = node[part];
  }
  return node;
}

function describeDetail(detail) {
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  }
  return typeof detail === "string" ? detail : "";
}

async function getJSON(path, params) {
  const response = await fetch(`${path}?${params}`, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(response.status, describeDetail(body.detail) || response.statusText);
  }
  return body;
}

function baseParams() {
  const params = new URLSearchParams();
  const span = RANGES[state.range];
  if (span) params.set("from", new Date(Date.now() - span * 1000).toISOString());
  if (state.query) params.set("q", state.query);
  return params;
}

function withParams(params, extra) {
  const merged = new URLSearchParams(params);
  for (const [key, value] of Object.entries(extra)) merged.set(key, value);
  return merged;
}

// ---- rendering --------------------------------------------------------------------------

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function endpoint(side) {
  const ip = side?.ip ?? "?";
  const host = String(ip).includes(":") ? `[${ip}]` : ip;
  return side?.port === undefined ? host : `${host}:${side.port}`;
}

function genericFields(event, dataset) {
  const ns = event[dataset];
  if (!ns || typeof ns !== "object") return [];
  return Object.entries(ns)
    .filter(([, value]) => value !== null && typeof value !== "object")
    .slice(0, 5)
    .map(([key]) => [`${dataset}.${key}`, `${key}=`]);
}

function summary(event) {
  const dataset = field(event, "event.dataset") ?? "?";
  const parts = [dataset];
  if (field(event, "event.kind") === "alert") {
    const severity = field(event, "event.severity") ?? "?";
    parts.unshift(`ALERT sev=${severity}`, field(event, "rule.name") ?? "");
  }
  for (const [name, label] of SUMMARY_FIELDS[dataset] ?? genericFields(event, dataset)) {
    const value = field(event, name);
    if (value !== undefined && value !== null) parts.push(`${label}${value}`);
  }
  return parts.filter((part) => part !== "").join(" ");
}

// Table times to the millisecond; the full microseconds are in the tooltip and the detail.
function formatTime(timestamp) {
  return String(timestamp ?? "").replace("T", " ").replace(/Z$/, "");
}

function shortTime(timestamp) {
  return formatTime(timestamp).replace(/(\.\d{3})\d*$/, "$1");
}

function cell(className, text, title) {
  const node = element("td", className, text);
  node.title = title ?? text;
  return node;
}

function eventRow(event) {
  const row = element("tr");
  const id = field(event, "event.id");
  row.tabIndex = 0;
  row.dataset.id = id;
  if (field(event, "event.kind") === "alert") row.classList.add("alert");
  if (id === state.selectedId) row.classList.add("selected");
  row.append(
    cell("col-time", shortTime(event["@timestamp"]), formatTime(event["@timestamp"])),
    cell("col-dataset", field(event, "event.dataset") ?? ""),
    cell("col-flow", `${endpoint(event.source)} → ${endpoint(event.destination)}`),
    cell("col-summary", summary(event)),
    cell("col-frame", String(field(event, "pcap.frame") ?? "")),
  );
  row.addEventListener("click", () => showDetail(event));
  row.addEventListener("keydown", (e) => { if (e.key === "Enter") showDetail(event); });
  return row;
}

function renderEvents(page) {
  $("events").replaceChildren(...page.data.map(eventRow));
  $("empty").hidden = page.data.length > 0;
  const shown = page.data.length < page.count ? ` · newest ${page.data.length} shown` : "";
  const time = new Date().toLocaleTimeString([], { hour12: false });
  $("status").textContent = `${page.count} events${shown} · updated ${time}`;
}

function datasetItem(bucket, max) {
  const item = element("li");
  const link = element("button", "facet");
  const bar = element("span", "bar");
  bar.style.width = `${(100 * bucket.count) / max}%`;
  link.type = "button";
  link.title = `filter on event.dataset:${bucket.key}`;
  link.append(bar, element("span", "key", String(bucket.key)),
    element("span", "count", String(bucket.count)));
  link.addEventListener("click", () => addFilter(`event.dataset:${bucket.key}`));
  item.append(link);
  return item;
}

function renderDatasets(buckets) {
  const max = Math.max(1, ...buckets.map((b) => b.count));
  $("datasets").replaceChildren(...buckets.map((b) => datasetItem(b, max)));
}

function histogramSpan(buckets, params, width) {
  const start = params.get("from") ? Date.parse(params.get("from")) : Date.parse(buckets[0].key);
  const end = params.get("from") ? Date.now() : Date.parse(buckets.at(-1).key) + width;
  return [start, Math.max(end, start + width)];
}

function renderHistogram(buckets, params) {
  const chart = $("histogram");
  if (!buckets.length) return chart.replaceChildren();
  const width = BUCKET_S[state.range] * 1000;
  const [start, end] = histogramSpan(buckets, params, width);
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const labels = [element("span", "hlabel", shortTime(new Date(start).toISOString())),
    element("span", "hlabel end", shortTime(new Date(end).toISOString()))];
  chart.replaceChildren(...labels, ...buckets.map((bucket) => {
    const bar = element("span", "hbar");
    bar.style.left = `${(100 * (Date.parse(bucket.key) - start)) / (end - start)}%`;
    bar.style.width = `max(2px, ${(100 * width) / (end - start)}%)`;
    bar.style.height = `${(75 * bucket.count) / max}%`; // the top quarter holds the labels
    bar.title = `${formatTime(bucket.key)}: ${bucket.count}`;
    return bar;
  }));
}

function showError(message) {
  $("error").textContent = message ?? "";
  $("error").hidden = !message;
  $("q").classList.toggle("invalid", Boolean(message));
}

function showDetail(event) {
  state.selectedId = field(event, "event.id");
  $("detail-json").textContent = JSON.stringify(event, null, 2);
  $("detail").hidden = false;
  for (const row of $("events").rows) {
    row.classList.toggle("selected", row.dataset.id === state.selectedId);
  }
}

function hideDetail() {
  state.selectedId = null;
  $("detail").hidden = true;
  for (const row of $("events").querySelectorAll(".selected")) row.classList.remove("selected");
}

// ---- refresh loop -----------------------------------------------------------------------

function clearResults() {
  $("events").replaceChildren();
  $("datasets").replaceChildren();
  $("histogram").replaceChildren();
  $("status").textContent = "query error";
}

// Each refresh renders only if no newer one started meanwhile (a new query wins over a poll).
async function refresh() {
  const generation = ++state.generation;
  const params = baseParams();
  try {
    const [page, datasets, histogram] = await Promise.all([
      getJSON("/api/events", withParams(params, { size: PAGE_SIZE })),
      getJSON("/api/events/terms", withParams(params, { field: "event.dataset", size: 30 })),
      getJSON("/api/events/histogram", withParams(params, { interval: BUCKET_S[state.range] })),
    ]);
    if (generation !== state.generation) return;
    renderEvents(page);
    renderDatasets(datasets.data);
    renderHistogram(histogram.data, params);
    showError(null);
  } catch (err) {
    if (generation === state.generation) showFailure(err);
  }
}

function showFailure(err) {
  if (err instanceof ApiError && err.status < 500) clearResults();
  const unreachable = `cannot reach the console (${err.message}); retrying`;
  showError(err instanceof ApiError ? err.message : unreachable);
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(async () => {
    if ($("live").checked && !document.hidden) await refresh();
    schedule();
  }, POLL_MS);
}

// ---- controls ---------------------------------------------------------------------------

function rememberInUrl() {
  const params = new URLSearchParams();
  if (state.query) params.set("q", state.query);
  if (state.range !== "all") params.set("range", state.range);
  const search = params.toString();
  history.replaceState(null, "", search ? `?${search}` : location.pathname);
}

function applyControls() {
  state.query = $("q").value.trim();
  state.range = $("range").value;
  rememberInUrl();
  refresh();
  schedule();
}

function addFilter(clause) {
  const current = $("q").value.trim();
  $("q").value = current ? `(${current}) AND ${clause}` : clause;
  applyControls();
}

function restoreFromUrl() {
  const params = new URLSearchParams(location.search);
  $("q").value = params.get("q") ?? "";
  if (params.get("range") in RANGES) $("range").value = params.get("range");
}

function start() {
  restoreFromUrl();
  $("search").addEventListener("submit", (e) => { e.preventDefault(); applyControls(); });
  $("range").addEventListener("change", applyControls);
  $("detail-close").addEventListener("click", hideDetail);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") hideDetail(); });
  applyControls();
}

document.addEventListener("DOMContentLoaded", start);
