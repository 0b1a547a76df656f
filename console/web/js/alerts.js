// Alert triage: filters, a keyboard-driven table, bulk actions, and the detail panel.
//   j / k   move the cursor      x   select the row      Enter / o   open the detail
//   a       acknowledge          c   close as true positive   f   close as false positive
//   /       focus the query      Esc close the detail
// a / c / f act on the selected rows, or on the row under the cursor when none is selected.
import { api } from "./api.js";
import { $, cell, element, field, flowText, formatTime, shortTime } from "./dom.js";
import { t } from "./i18n.js";
import { severityBadge, statusBadge, statusOf } from "./severity.js";
import { closeDetail, openDetail } from "./alert-detail.js";
import { loadReporting, showError } from "./errors.js";

const PAGE_SIZE = 200;
const KEY_STATUS = { a: "acknowledged", c: "closed_true_positive", f: "closed_false_positive" };
const state = { wired: false, user: null, rows: [], newest: [], count: 0, cursor: 0,
  selected: new Set(), openId: null, generation: 0, byRisk: false };

const idOf = (alert) => field(alert, "event.id");

function filters() {
  return { q: $("alert-query").value.trim(), status: $("alert-status").value,
    min_severity: $("alert-severity").value, size: PAGE_SIZE };
}

function timeCell(timestamp) {
  const node = cell(shortTime(timestamp), "col-time");
  node.title = formatTime(timestamp);
  return node;
}

function riskCell(risk) {
  const node = cell(typeof risk === "number" ? Math.round(risk) : "", "col-risk");
  if (typeof risk === "number") node.title = String(risk);
  return node;
}

const riskOf = (alert) => field(alert, "event.risk_score") ?? -1;

/** The page in the chosen order: as the store gives it (newest first) or highest risk first. */
function ordered() {
  if (!state.byRisk) return [...state.newest];
  return [...state.newest].sort((a, b) => riskOf(b) - riskOf(a));
}

function sortByRisk(byRisk) {
  const current = state.rows[state.cursor];
  state.byRisk = byRisk;
  state.rows = ordered();
  state.cursor = Math.max(0, current ? state.rows.indexOf(current) : 0);
  const header = document.querySelector(".alerts-table th.col-risk");
  header.setAttribute("aria-sort", byRisk ? "descending" : "none");
  header.title = t(byRisk ? "alerts.sort_time" : "alerts.sort_risk");
  render();
}

function alertRow(alert, index) {
  const id = idOf(alert);
  const row = element("tr");
  row.dataset.id = id;
  row.classList.toggle("cursor", index === state.cursor);
  row.classList.toggle("checked", state.selected.has(id));
  row.classList.toggle("open", id === state.openId);
  const check = element("input");
  check.type = "checkbox";
  check.checked = state.selected.has(id);
  check.setAttribute("aria-label", t("alerts.select"));
  check.addEventListener("click", (e) => { e.stopPropagation(); toggle(id); });
  const checkCell = element("td", "col-check");
  checkCell.append(check);
  const severity = element("td", "col-sev");
  severity.append(severityBadge(field(alert, "event.severity")));
  const status = element("td", "col-status");
  status.append(statusBadge(statusOf(alert)));
  row.append(checkCell, severity, timeCell(alert["@timestamp"]),
    cell(field(alert, "rule.name") ?? field(alert, "event.reason") ?? "", "col-rule"),
    cell(flowText(alert), "col-flow"), status,
    cell(field(alert, "alert.assignee") ?? "", "col-assignee"),
    riskCell(field(alert, "event.risk_score")));
  row.addEventListener("click", () => { moveCursor(index); open(id); });
  return row;
}

function render() {
  $("alert-rows").replaceChildren(...state.rows.map(alertRow));
  $("alerts-empty").hidden = state.rows.length > 0;
  $("alerts-count").textContent = t("alerts.count", { shown: state.rows.length,
    count: state.count });
  $("selected-count").textContent = t("alerts.selected", { n: state.selected.size });
  $("select-all").checked = state.rows.length > 0 && state.selected.size === state.rows.length;
}

async function load() {
  const generation = ++state.generation;
  const page = await api.get("/api/alerts", filters());
  if (generation !== state.generation) return;
  state.newest = page.data;
  state.rows = ordered();
  state.count = page.count;
  const ids = new Set(state.rows.map(idOf));
  state.selected = new Set([...state.selected].filter((id) => ids.has(id)));
  state.cursor = Math.min(state.cursor, Math.max(0, state.rows.length - 1));
  render();
}

function loadSafely() {
  return loadReporting(load);
}

// ---- selection and cursor --------------------------------------------------------------

function toggle(id) {
  if (state.selected.has(id)) state.selected.delete(id);
  else state.selected.add(id);
  render();
}

function toggleAll() {
  const all = state.selected.size === state.rows.length;
  state.selected = all ? new Set() : new Set(state.rows.map(idOf));
  render();
}

function moveCursor(index) {
  state.cursor = Math.max(0, Math.min(index, state.rows.length - 1));
  render();
  $("alert-rows").rows[state.cursor]?.scrollIntoView({ block: "nearest" });
}

function targets() {
  if (state.selected.size) return [...state.selected];
  const current = state.rows[state.cursor];
  return current ? [idOf(current)] : [];
}

// ---- triage ----------------------------------------------------------------------------

async function bulk(changes) {
  const ids = targets();
  if (!ids.length) return;
  try {
    await api.post("/api/alerts/bulk", { ids, ...changes });
    state.selected.clear();
    await load();
    if (state.openId && ids.includes(state.openId)) await openDetail(state.openId, onChanged);
  } catch (err) {
    showError("error.action", err);
  }
}

function onChanged() {
  loadSafely();
}

function open(id) {
  state.openId = id;
  if (location.hash !== `#/alerts/${encodeURIComponent(id)}`) {
    history.replaceState(null, "", `#/alerts/${encodeURIComponent(id)}`);
  }
  render();
  openDetail(id, onChanged);
}

function close() {
  state.openId = null;
  history.replaceState(null, "", "#/alerts");
  closeDetail();
  render();
}

function canTriage() {
  return state.user && state.user.role !== "viewer";
}

function onKey(e) {
  if ($("view-alerts").hidden || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.closest("input, textarea, select")) {
    if (e.key === "Escape") e.target.blur();
    return;
  }
  const actions = {
    j: () => moveCursor(state.cursor + 1),
    k: () => moveCursor(state.cursor - 1),
    x: () => state.rows[state.cursor] && toggle(idOf(state.rows[state.cursor])),
    o: () => state.rows[state.cursor] && open(idOf(state.rows[state.cursor])),
    Enter: () => state.rows[state.cursor] && open(idOf(state.rows[state.cursor])),
    "/": () => $("alert-query").focus(),
    Escape: close,
  };
  if (canTriage()) {
    for (const [key, status] of Object.entries(KEY_STATUS)) actions[key] = () => bulk({ status });
  }
  if (!(e.key in actions)) return;
  e.preventDefault();
  actions[e.key]();
}

// ---- view contract ---------------------------------------------------------------------

function wire() {
  $("alert-filters").addEventListener("submit", (e) => { e.preventDefault(); loadSafely(); });
  $("alert-status").addEventListener("change", loadSafely);
  $("alert-severity").addEventListener("change", loadSafely);
  $("select-all").addEventListener("click", toggleAll);
  const riskHeader = document.querySelector(".alerts-table th.col-risk");
  riskHeader.classList.add("sortable");
  riskHeader.tabIndex = 0;
  riskHeader.title = t("alerts.sort_risk");
  riskHeader.addEventListener("click", () => sortByRisk(!state.byRisk));
  riskHeader.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortByRisk(!state.byRisk); }
  });
  for (const node of document.querySelectorAll("[data-bulk]")) {
    node.addEventListener("click", () => bulk({ status: node.dataset.bulk }));
  }
  $("bulk-assign").addEventListener("click", () => {
    bulk({ assignee: $("bulk-assignee").value.trim() || state.user.username });
  });
  document.addEventListener("keydown", onKey);
}

export function init(user) {
  state.user = user;
  $("bulk-assignee").value = "";
  if (!state.wired) wire();
  state.wired = true;
}

export async function show(arg) {
  await loadSafely();
  if (!arg) {
    state.openId = null;
    closeDetail();
    render();
    return;
  }
  const index = state.rows.findIndex((alert) => idOf(alert) === arg);
  if (index >= 0) moveCursor(index);
  open(arg);
}

export function stop() {
  state.rows = [];
  state.newest = [];
  state.selected.clear();
  state.openId = null;
  closeDetail();
}
