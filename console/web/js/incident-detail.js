// The incident detail panel: how far the attack went (stages), its timeline of alerts, the
// hosts involved, triage (status, assignee, comments) as for alerts.
import { api } from "./api.js";
import { $, button, cell, displayValue, element, field, flowText, formatTime } from "./dom.js";
import { t } from "./i18n.js";
import { severityBadge, statusBadge } from "./severity.js";
import { triageBar } from "./triage.js";
import { showError } from "./errors.js";

const STAGES = ["discovery", "command", "impact"];
const state = { id: null, onChanged: () => {} };

export function incidentStatus(incident) {
  return incident?.incident?.status ?? "new";
}

/** Every kill-chain stage as a chip, lit when the incident reached it. */
export function stageChain(reached) {
  const chain = element("span", "stage-chain");
  const seen = new Set(reached ?? []);
  for (const stage of STAGES) {
    const chip = element("span", `stage stage-${stage}`, t(`stage.${stage}`));
    chip.classList.toggle("reached", seen.has(stage));
    chain.append(chip);
  }
  return chain;
}

function section(titleKey, ...children) {
  const node = element("section", "detail-section");
  node.append(element("h4", "", t(titleKey)), ...children);
  return node;
}

function definitions(pairs) {
  const list = element("dl", "fields");
  for (const [labelKey, value] of pairs) {
    if (value === undefined || value === null || value === "" ||
        (Array.isArray(value) && !value.length)) continue;
    const description = element("dd");
    if (value instanceof Node) description.append(value);
    else description.textContent = displayValue(value);
    list.append(element("dt", "", t(labelKey)), description);
  }
  return list;
}

function overview(incident) {
  return definitions([
    ["alerts.severity", severityBadge(field(incident, "event.severity"))],
    ["alerts.status", statusBadge(incidentStatus(incident))],
    ["alerts.assignee", field(incident, "incident.assignee")],
    ["incidents.state", t(`incidents.state_${field(incident, "incident.state") ?? "open"}`)],
    ["incidents.stages", stageChain(field(incident, "incident.stages"))],
    ["incidents.first_seen", formatTime(field(incident, "event.start"))],
    ["incidents.last_seen", formatTime(incident["@timestamp"])],
    ["alerts.risk", field(incident, "event.risk_score")],
    ["incidents.alerts", field(incident, "incident.alert_count")],
    ["incidents.hosts", field(incident, "incident.assets.ip")],
    ["incidents.zones", field(incident, "incident.assets.zone")],
    ["detail.technique", field(incident, "threat.technique.id")],
    ["detail.observer", field(incident, "observer.name")],
  ]);
}

function timelineRow(entry) {
  const row = element("tr");
  row.dataset.alertId = entry.alert_id ?? "";
  const time = cell(formatTime(entry.at).slice(11), "col-time");
  time.title = formatTime(entry.at);
  const stage = element("td", "col-stage");
  if (entry.stage) stage.append(element("span", `stage stage-${entry.stage} reached`,
    t(`stage.${entry.stage}`)));
  const severity = element("td", "col-sev");
  severity.append(severityBadge(entry.severity));
  row.append(time, stage, severity, cell(entry.text ?? entry.rule ?? ""));
  row.addEventListener("click", () => {
    if (entry.alert_id) location.hash = `#/alerts/${encodeURIComponent(entry.alert_id)}`;
  });
  return row;
}

function timelineSection(incident) {
  const table = element("table", "grid compact timeline-table");
  const head = element("tr");
  const columns = [["col.time", "col-time"], ["incidents.stage", "col-stage"],
    ["alerts.severity", "col-sev"], ["incidents.what", ""]];
  for (const [key, className] of columns) head.append(element("th", className, t(key)));
  table.append(element("thead"), element("tbody"));
  table.tHead.append(head);
  table.tBodies[0].append(...(field(incident, "incident.timeline") ?? []).map(timelineRow));
  return section("incidents.timeline", table);
}

function alertsSection(alerts) {
  const list = element("ul", "incident-alerts");
  for (const alert of alerts) {
    const item = element("li");
    const link = element("a", "", `${field(alert, "rule.name") ?? field(alert, "event.id")}`);
    link.href = `#/alerts/${encodeURIComponent(field(alert, "event.id"))}`;
    item.append(link, element("span", "muted", ` ${flowText(alert)}`));
    list.append(item);
  }
  return section("incidents.alert_list", list);
}

async function patch(changes) {
  try {
    await api.patch(`/api/incidents/${encodeURIComponent(state.id)}`, changes);
    state.onChanged();
    await openIncident(state.id, state.onChanged);
  } catch (err) {
    showError("error.action", err);
  }
}

function actions(incident) {
  return triageBar({ status: incidentStatus(incident), inputId: "incident-assignee",
    assignee: field(incident, "incident.assignee"), patch });
}

function comment(entry) {
  const item = element("li", "comment");
  item.append(element("span", "comment-by", `${entry.by ?? "?"} · ${formatTime(entry.at)}`),
    element("p", "comment-text", entry.text ?? ""));
  return item;
}

function commentsSection(incident) {
  const list = element("ol", "comments");
  list.append(...(field(incident, "incident.comments") ?? []).map(comment));
  const form = element("form", "comment-form needs-analyst");
  const text = element("textarea");
  text.rows = 2;
  text.placeholder = t("detail.comment_placeholder");
  text.setAttribute("aria-label", t("detail.comment_placeholder"));
  const submit = element("button", "", t("action.comment"));
  submit.type = "submit";
  form.append(text, submit);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (text.value.trim()) patch({ comment: text.value.trim() });
  });
  return section("detail.comments", list, form);
}

function header(incident) {
  const head = element("div", "detail-head");
  const close = button("×", "close", () => { location.hash = "#/incidents"; });
  close.setAttribute("aria-label", t("action.close"));
  head.append(element("h3", "", field(incident, "incident.title") ?? t("incidents.incident")),
    close);
  return head;
}

function render({ incident, alerts }) {
  $("incident-detail").replaceChildren(header(incident), actions(incident), overview(incident),
    timelineSection(incident), alertsSection(alerts ?? []), commentsSection(incident));
  $("incident-detail").hidden = false;
}

/** Shows incident `id`; `onChanged()` is called after every triage change made here. */
export async function openIncident(id, onChanged) {
  state.id = id;
  state.onChanged = onChanged;
  try {
    const detail = await api.get(`/api/incidents/${encodeURIComponent(id)}`);
    if (state.id === id) render(detail);
  } catch (err) {
    $("incident-detail").replaceChildren(element("p", "error", t("error.load",
      { message: err.message })));
    $("incident-detail").hidden = false;
  }
}

export function closeIncident() {
  state.id = null;
  $("incident-detail").hidden = true;
  $("incident-detail").replaceChildren();
}
