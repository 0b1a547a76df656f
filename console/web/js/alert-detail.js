// The alert detail panel: what fired and why, the evidence with its capture frames, triage.
import { api } from "./api.js";
import { $, button, cell, displayValue, element, field, flatten, flowText, formatTime }
  from "./dom.js";
import { responseSection } from "./alert-response.js";
import { t } from "./i18n.js";
import { summary } from "./events.js";
import { severityBadge, statusBadge, statusOf } from "./severity.js";
import { triageBar } from "./triage.js";
import { showError } from "./errors.js";

const state = { id: null, onChanged: () => {} };

function section(titleKey, ...children) {
  const node = element("section", "detail-section");
  node.append(element("h4", "", t(titleKey)), ...children);
  return node;
}

function definitions(pairs) {
  const list = element("dl", "fields");
  for (const [labelKey, value] of pairs) {
    if (value === undefined || value === null || value === "") continue;
    const term = element("dt", "", t(labelKey));
    const description = element("dd");
    if (value instanceof Node) description.append(value);
    else description.textContent = displayValue(value);
    list.append(term, description);
  }
  return list;
}

function overview(alert) {
  return definitions([
    ["alerts.severity", severityBadge(field(alert, "event.severity"))],
    ["alerts.status", statusBadge(statusOf(alert))],
    ["alerts.assignee", field(alert, "alert.assignee")],
    ["col.time", formatTime(alert["@timestamp"])],
    ["col.flow", flowText(alert)],
    ["col.dataset", field(alert, "event.dataset")],
    ["alerts.risk", field(alert, "event.risk_score")],
    ["detail.repeat_count", occurrences(alert)],
    ["detail.observer", field(alert, "observer.name")],
    ["detail.capture", field(alert, "pcap.file")],
    ["col.frame", field(alert, "pcap.frame")],
  ]);
}

/** How many alerts this one stands for, when fusion folded repeats into it. */
function occurrences(alert) {
  const count = field(alert, "alert.repeat_count");
  return count > 1 ? count : undefined;
}

function ruleSection(alert) {
  return section("detail.rule", definitions([
    ["detail.rule_name", field(alert, "rule.name")],
    ["detail.rule_id", field(alert, "rule.id")],
    ["detail.description", field(alert, "rule.description")],
    ["detail.framework", field(alert, "threat.framework")],
    ["detail.technique", field(alert, "threat.technique.id")],
    ["detail.technique_name", field(alert, "threat.technique.name")],
    ["detail.tactic", field(alert, "threat.tactic.name")],
    ["detail.reason", field(alert, "event.reason")],
    ["detail.indicator", indicatorText(alert)],
  ]));
}

function indicatorText(alert) {
  const name = field(alert, "threat.indicator.name");
  if (!name) return undefined;
  const about = field(alert, "threat.indicator.description");
  const provider = field(alert, "threat.indicator.provider");
  return [name, about, provider && `(${provider})`].filter(Boolean).join(" · ");
}

// Where each endpoint is, from the configured assets and zones (absent when not configured).
function assetText(alert, side) {
  const name = field(alert, `${side}.asset.name`);
  if (!name) return undefined;
  const role = field(alert, `${side}.asset.role`);
  const level = field(alert, `${side}.asset.criticality`);
  return [role ? `${name} (${role})` : name,
    level && `${t("detail.criticality")} ${level}/5`].filter(Boolean).join(" · ");
}

function zoneText(alert, side) {
  const zone = field(alert, `${side}.zone`);
  if (!zone || typeof zone !== "string") return undefined;
  const kind = field(alert, `${side}.zone_kind`);
  const level = field(alert, `${side}.zone_criticality`);
  return [kind ? `${zone} (${kind})` : zone,
    level && `${t("detail.criticality")} ${level}/5`].filter(Boolean).join(" · ");
}

function placesSection(alert) {
  const pairs = ["source", "destination"].flatMap((side) => [
    [`detail.${side}_asset`, assetText(alert, side)],
    [`detail.${side}_zone`, zoneText(alert, side)],
  ]);
  if (pairs.every(([, value]) => value === undefined)) return null;
  const node = section("detail.places", definitions(pairs));
  node.classList.add("places");
  return node;
}

function featureTable(features) {
  const table = element("table", "grid compact features");
  const head = element("tr");
  for (const key of ["detail.feature", "detail.observed", "detail.expected", "detail.deviation"]) {
    head.append(element("th", "", t(key)));
  }
  const names = [features.name ?? []].flat();
  const rows = names.map((name, i) => {
    const row = element("tr");
    row.append(cell(name), cell(features.observed?.[i]), cell(features.expected?.[i]),
      cell(features.deviation?.[i]));
    return row;
  });
  table.append(element("thead"), element("tbody"));
  table.tHead.append(head);
  table.tBodies[0].append(...rows);
  return table;
}

function anomalySection(alert) {
  const anomaly = field(alert, "anomaly");
  const baseline = field(alert, "baseline");
  if (!anomaly && !baseline) return null;
  const parts = [definitions([
    ["detail.anomaly_score", field(alert, "anomaly.score")],
    ["detail.anomaly_threshold", field(alert, "anomaly.threshold")],
    ["detail.anomaly_model", field(alert, "anomaly.model")],
    ["detail.baseline_violation", field(alert, "baseline.violation")],
    ["detail.baseline_expected", field(alert, "baseline.expected")],
    ["detail.baseline_observed", field(alert, "baseline.observed")],
  ])];
  if (anomaly?.features) parts.push(featureTable(anomaly.features));
  return section("detail.anomaly", ...parts);
}

function evidenceRow(event) {
  const row = element("tr");
  const time = cell(formatTime(event["@timestamp"]).slice(11), "col-time");
  time.title = formatTime(event["@timestamp"]);
  row.title = flowText(event);
  row.append(cell(field(event, "pcap.frame") ?? "", "col-frame"), time,
    cell(field(event, "event.dataset") ?? "", "col-dataset"), cell(summary(event)));
  return row;
}

function evidenceSection(alert, evidence) {
  const table = element("table", "grid compact evidence");
  const head = element("tr");
  const columns = [["col.frame", "col-frame"], ["col.time", "col-time"],
    ["col.dataset", "col-dataset"], ["col.summary", ""]];
  for (const [key, className] of columns) head.append(element("th", className, t(key)));
  table.append(element("thead"), element("tbody"));
  table.tHead.append(head);
  table.tBodies[0].append(...evidence.map(evidenceRow));
  const frames = field(alert, "evidence.frames");
  const note = frames
    ? element("p", "muted note", t("detail.frames", { frames: displayValue(frames) })) : "";
  return section("detail.evidence", table, note);
}

function comment(entry) {
  const item = element("li", "comment");
  item.append(element("span", "comment-by", `${entry.by ?? "?"} · ${formatTime(entry.at)}`),
    element("p", "comment-text", entry.text ?? ""));
  return item;
}

async function patch(changes) {
  try {
    await api.patch(`/api/alerts/${encodeURIComponent(state.id)}`, changes);
    state.onChanged();
    await openDetail(state.id, state.onChanged);
  } catch (err) {
    showError("error.action", err);
  }
}

function commentsSection(alert) {
  const list = element("ol", "comments");
  list.append(...(field(alert, "alert.comments") ?? []).map(comment));
  const form = element("form", "comment-form needs-analyst");
  const text = element("textarea");
  text.id = "comment-text";
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

function actions(alert) {
  return triageBar({ status: statusOf(alert), inputId: "detail-assignee",
    assignee: field(alert, "alert.assignee"), patch });
}

function allFields(alert) {
  const details = element("details", "all-fields");
  details.append(element("summary", "", t("detail.all_fields")));
  const list = element("dl", "fields mono");
  for (const [name, value] of flatten(alert)) {
    list.append(element("dt", "", name), element("dd", "", displayValue(value)));
  }
  details.append(list);
  return details;
}

function header(alert) {
  const head = element("div", "detail-head");
  const close = button("×", "close", () => { location.hash = "#/alerts"; });
  close.setAttribute("aria-label", t("action.close"));
  head.append(element("h3", "", field(alert, "rule.name") ?? t("detail.alert")), close);
  return head;
}

function render({ alert, evidence }) {
  $("alert-detail").replaceChildren(header(alert), actions(alert), overview(alert),
    ruleSection(alert), ...[placesSection(alert), anomalySection(alert)].filter(Boolean),
    evidenceSection(alert, evidence ?? []), responseSection(alert), commentsSection(alert),
    allFields(alert));
  $("alert-detail").hidden = false;
}

/** Shows alert `id`; `onChanged()` is called after every triage change made here. */
export async function openDetail(id, onChanged) {
  state.id = id;
  state.onChanged = onChanged;
  try {
    const detail = await api.get(`/api/alerts/${encodeURIComponent(id)}`);
    if (state.id === id) render(detail);
  } catch (err) {
    $("alert-detail").replaceChildren(element("p", "error", t("error.load",
      { message: err.message })));
    $("alert-detail").hidden = false;
  }
}

export function closeDetail() {
  state.id = null;
  $("alert-detail").hidden = true;
  $("alert-detail").replaceChildren();
}
