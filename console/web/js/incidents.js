// Incidents: alerts the correlator grouped by shared hosts, time and kill-chain stage.
// The list sorts by last activity or by risk; #/incidents/<id> opens the detail with the
// timeline.
import { api } from "./api.js";
import { $, cell, element, field, formatTime, shortTime } from "./dom.js";
import { t } from "./i18n.js";
import { severityBadge, statusBadge } from "./severity.js";
import { closeIncident, incidentStatus, openIncident, stageChain } from "./incident-detail.js";
import { loadReporting } from "./errors.js";

const PAGE_SIZE = 200;
const state = { wired: false, rows: [], count: 0, openId: null, generation: 0 };

const idOf = (incident) => field(incident, "event.id");
const riskText = (risk) => (typeof risk === "number" ? risk.toFixed(0) : "");

function filters() {
  return { state: $("incident-state").value, status: $("incident-status").value,
    min_severity: $("incident-severity").value, sort: $("incident-sort").value,
    size: PAGE_SIZE };
}

function incidentRow(incident) {
  const id = idOf(incident);
  const row = element("tr");
  row.dataset.id = id;
  row.classList.toggle("open", id === state.openId);
  const severity = element("td", "col-sev");
  severity.append(severityBadge(field(incident, "event.severity")));
  const time = cell(shortTime(incident["@timestamp"]), "col-time");
  time.title = formatTime(incident["@timestamp"]);
  const stages = element("td", "col-stages");
  stages.append(stageChain(field(incident, "incident.stages")));
  const status = element("td", "col-status");
  status.append(statusBadge(incidentStatus(incident)));
  row.append(severity, time, cell(field(incident, "incident.title") ?? "", "col-title"), stages,
    cell(field(incident, "incident.alert_count") ?? "", "col-count"),
    cell(t(`incidents.state_${field(incident, "incident.state") ?? "open"}`), "col-state"),
    status, cell(riskText(field(incident, "event.risk_score")), "col-risk"));
  row.addEventListener("click", () => { location.hash = `#/incidents/${encodeURIComponent(id)}`; });
  return row;
}

function render() {
  $("incident-rows").replaceChildren(...state.rows.map(incidentRow));
  $("incidents-empty").hidden = state.rows.length > 0;
  $("incidents-count").textContent = t("incidents.count", { shown: state.rows.length,
    count: state.count });
}

async function load() {
  const generation = ++state.generation;
  const page = await api.get("/api/incidents", filters());
  if (generation !== state.generation) return;
  state.rows = page.data;
  state.count = page.count;
  render();
}

function loadSafely() {
  return loadReporting(load);
}

function wire() {
  $("incident-filters").addEventListener("submit", (e) => { e.preventDefault(); loadSafely(); });
  for (const id of ["incident-state", "incident-status", "incident-severity", "incident-sort"]) {
    $(id).addEventListener("change", loadSafely);
  }
}

// ---- view contract ---------------------------------------------------------------------

export function init() {
  if (!state.wired) wire();
  state.wired = true;
}

export async function show(arg) {
  await loadSafely();
  state.openId = arg || null;
  render();
  if (arg) openIncident(arg, loadSafely);
  else closeIncident();
}

export function stop() {
  state.rows = [];
  state.openId = null;
  closeIncident();
}
