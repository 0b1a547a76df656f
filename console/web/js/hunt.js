// Hunt: a Lucene query over all events, a time range, a histogram, field columns, and the
// user's saved queries (kept on the server, so they follow the user; columns stay per browser).
import { api } from "./api.js";
import { $, button, cell, displayValue, element, field, formatTime } from "./dom.js";
import { t } from "./i18n.js";
import { timeChart } from "./chart.js";
import { summary } from "./events.js";
import { localInputToIso, rangeParams } from "./time.js";

const PAGE_SIZE = 100;
const SAVED_KEY = "liaowang.savedQueries";
const DEFAULT_COLUMNS = "event.dataset, source.ip, destination.ip, destination.port, pcap.frame";
// Bucket widths tried from coarse to fine, so "all time" over a capture from years ago still
// draws a useful histogram: while too few buckets come back, zoom into the span they cover.
const ZOOM_INTERVALS_S = [86400, 3600, 60, 1];
const TARGET_BUCKETS = 60;
const MIN_BUCKETS = 8;
const state = { wired: false, generation: 0, cursor: null, rows: [], columns: [] };

// ---- query parameters ------------------------------------------------------------------

function timeParams() {
  const range = $("hunt-range").value;
  if (range !== "custom") return rangeParams(range);
  return { from: localInputToIso($("hunt-from").value), to: localInputToIso($("hunt-to").value) };
}

function columns() {
  return $("hunt-columns").value.split(",").map((name) => name.trim()).filter(Boolean);
}

function intervalFor(params) {
  if (!params.from) return null;
  const end = params.to ? Date.parse(params.to) : Date.now();
  const span = Math.max(1, (end - Date.parse(params.from)) / 1000);
  return Math.max(1, Math.round(span / TARGET_BUCKETS));
}

// ---- histogram -------------------------------------------------------------------------

function histogramRequest(q, when, interval) {
  // `interval` is what the events route reads today; `interval_s` is the contract's name.
  return api.get("/api/events/histogram", { q, ...when, interval, interval_s: interval });
}

async function zoomingHistogram(q, when) {
  let window = { ...when };
  for (const [step, interval] of ZOOM_INTERVALS_S.entries()) {
    const buckets = (await histogramRequest(q, window, interval)).data;
    const last = step === ZOOM_INTERVALS_S.length - 1;
    if (buckets.length === 0 || buckets.length >= MIN_BUCKETS || last) return { buckets, interval };
    const end = Date.parse(buckets.at(-1).key) + interval * 1000;
    window = { from: buckets[0].key, to: new Date(end).toISOString() };
  }
  return { buckets: [], interval: 1 };
}

async function histogram(q, when) {
  const interval = intervalFor(when);
  if (interval) return { buckets: (await histogramRequest(q, when, interval)).data, interval };
  return zoomingHistogram(q, when);
}

function renderHistogram({ buckets, interval }) {
  const chart = $("hunt-histogram");
  chart.replaceChildren(timeChart(buckets, { width: chart.clientWidth, height: 90,
    intervalMs: interval * 1000, label: t("hunt.histogram") }));
}

// ---- results ---------------------------------------------------------------------------

function renderHead() {
  const row = element("tr");
  row.append(element("th", "col-time", t("col.time")),
    ...state.columns.map((name) => element("th", "", name)),
    element("th", "col-summary", t("col.summary")));
  $("hunt-head").replaceChildren(row);
}

function resultRow(event) {
  const row = element("tr");
  row.tabIndex = 0;
  row.dataset.id = field(event, "event.id");
  if (field(event, "event.kind") === "alert") row.classList.add("is-alert");
  row.append(cell(formatTime(event["@timestamp"]), "col-time"),
    ...state.columns.map((name) => cell(displayValue(field(event, name)))),
    cell(summary(event), "col-summary"));
  const show = () => showEvent(event, row);
  row.addEventListener("click", show);
  row.addEventListener("keydown", (e) => { if (e.key === "Enter") show(); });
  return row;
}

function showEvent(event, row) {
  $("hunt-json").textContent = JSON.stringify(event, null, 2);
  $("hunt-detail").hidden = false;
  for (const other of $("hunt-rows").querySelectorAll(".open")) other.classList.remove("open");
  row.classList.add("open");
}

function appendResults(page) {
  state.rows.push(...page.data);
  state.cursor = page.cursor ?? null;
  $("hunt-rows").append(...page.data.map(resultRow));
  $("hunt-more").hidden = !state.cursor;
  $("hunt-status").textContent = t("hunt.status", { shown: state.rows.length,
    count: page.count });
}

function showError(message) {
  $("hunt-error").textContent = message ?? "";
  $("hunt-error").hidden = !message;
  $("hunt-query").classList.toggle("invalid", Boolean(message));
}

async function run() {
  const generation = ++state.generation;
  const q = $("hunt-query").value.trim();
  const when = timeParams();
  state.columns = columns();
  localStorage.setItem(`${SAVED_KEY}.columns`, $("hunt-columns").value);
  try {
    const [page, chart] = await Promise.all([
      api.get("/api/events", { q, ...when, size: PAGE_SIZE }), histogram(q, when)]);
    if (generation !== state.generation) return;
    state.rows = [];
    renderHead();
    $("hunt-rows").replaceChildren();
    appendResults(page);
    renderHistogram(chart);
    showError(null);
  } catch (err) {
    if (generation !== state.generation) return;
    $("hunt-rows").replaceChildren();
    $("hunt-histogram").replaceChildren();
    $("hunt-status").textContent = "";
    showError(err.message);
  }
}

async function more() {
  if (!state.cursor) return;
  const q = $("hunt-query").value.trim();
  try {
    appendResults(await api.get("/api/events",
      { q, ...timeParams(), size: PAGE_SIZE, cursor: state.cursor }));
  } catch (err) {
    showError(err.message);
  }
}

// ---- saved queries (per user, on the server: /api/saved-queries) ------------------------

function savedItem(entry) {
  const item = element("li");
  const load = button(entry.name, "saved-load", () => {
    $("hunt-query").value = entry.query;
    $("hunt-range").value = entry.range ?? "all";
    syncCustomRange();
    run();
  });
  load.title = entry.query;
  const remove = button("×", "saved-delete", () => deleteSaved(entry));
  remove.setAttribute("aria-label", t("hunt.delete_saved", { name: entry.name }));
  item.append(load, remove);
  return item;
}

async function renderSaved() {
  try {
    const list = (await api.get("/api/saved-queries")).data;
    $("saved-queries").replaceChildren(...list.map(savedItem));
    $("saved-empty").hidden = list.length > 0;
  } catch (err) {
    showError(err.message);
  }
}

async function deleteSaved(entry) {
  try {
    await api.delete(`/api/saved-queries/${entry.id}`);
  } catch (err) {
    showError(err.message);
  }
  renderSaved();
}

async function saveCurrent() {
  const query = $("hunt-query").value.trim();
  if (!query) return;
  try {
    await api.post("/api/saved-queries", { name: query.slice(0, 100), query,
      range: $("hunt-range").value });
  } catch (err) {
    showError(err.message);
  }
  renderSaved();
}

// ---- view contract ---------------------------------------------------------------------

function syncCustomRange() {
  $("hunt-custom").hidden = $("hunt-range").value !== "custom";
}

function wire() {
  $("hunt-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  $("hunt-range").addEventListener("change", () => { syncCustomRange(); run(); });
  $("hunt-save").addEventListener("click", saveCurrent);
  $("hunt-more").addEventListener("click", more);
  $("hunt-detail-close").addEventListener("click", () => { $("hunt-detail").hidden = true; });
  $("hunt-columns").addEventListener("change", run);
}

export function init() {
  if (state.wired) return;
  state.wired = true;
  $("hunt-columns").value = localStorage.getItem(`${SAVED_KEY}.columns`) ?? DEFAULT_COLUMNS;
  wire();
}

/** `arg`, when given, is a query to run (links from the dashboard). */
export function show(arg) {
  if (arg) $("hunt-query").value = arg;
  renderSaved();
  run();
}
