// Rules: the signature rules with their alerts of the last 24 hours; a filter box narrows the
// table by title, id, dataset, level or technique, and admins switch rules on and off.
import { api } from "./api.js";
import { $, cell, element } from "./dom.js";
import { t } from "./i18n.js";

const LEVEL_SEVERITY = { informational: 1, low: 1, medium: 2, high: 3, critical: 4 };
const state = { wired: false, rules: [], admin: false, generation: 0 };

function matches(rule, words) {
  const text = [rule.title, rule.id, rule.name, rule.dataset, rule.level, ...rule.techniques,
    ...rule.tags].join(" ").toLowerCase();
  return words.every((word) => text.includes(word));
}

function levelCell(rule) {
  const node = element("td", "col-sev");
  const badge = element("span", `sev sev-${LEVEL_SEVERITY[rule.level] ?? 2}`,
    t(`rules.level_${rule.level}`));
  node.append(badge);
  return node;
}

function titleCell(rule) {
  const node = element("td", "rule-title");
  node.append(element("span", "", rule.title));
  if (rule.correlation) node.append(" ", element("span", "chip", t("rules.correlation")));
  node.title = rule.description || rule.title;
  return node;
}

function switchCell(rule) {
  const node = element("td", "col-switch");
  const toggle = element("input", "rule-switch");
  toggle.type = "checkbox";
  toggle.setAttribute("role", "switch");
  toggle.checked = rule.enabled;
  toggle.disabled = !state.admin;
  toggle.dataset.ruleId = rule.id;
  toggle.setAttribute("aria-label", t(rule.enabled ? "rules.disable" : "rules.enable",
    { title: rule.title }));
  toggle.title = state.admin ? "" : t("rules.admin_only");
  toggle.addEventListener("change", () => setEnabled(rule, toggle));
  node.append(toggle, " ", element("span", "muted", t(rule.enabled ? "rules.on" : "rules.off")));
  return node;
}

function ruleRow(rule) {
  const row = element("tr");
  row.dataset.ruleId = rule.id;
  row.classList.toggle("disabled", !rule.enabled);
  row.append(switchCell(rule), levelCell(rule), titleCell(rule),
    cell(rule.dataset ?? "", "col-dataset mono"), cell(rule.techniques.join(", "), "col-tech"),
    cell(rule.alerts_24h ?? "", "col-count"), cell(rule.id, "col-id mono muted"));
  return row;
}

function render() {
  const words = $("rule-filter").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const shown = state.rules.filter((rule) => matches(rule, words));
  $("rule-rows").replaceChildren(...shown.map(ruleRow));
  $("rules-empty").hidden = shown.length > 0;
  const enabled = state.rules.filter((rule) => rule.enabled).length;
  $("rules-count").textContent = t("rules.count", { shown: shown.length,
    count: state.rules.length, enabled });
}

function showError(error) {
  $("rules-error").textContent = error ? t("rules.failed", { reason: error.message }) : "";
  $("rules-error").hidden = !error;
}

async function load() {
  const generation = ++state.generation;
  try {
    const page = await api.get("/api/rules");
    if (generation !== state.generation) return;
    state.rules = page.data;
    showError(null);
    render();
  } catch (error) {
    showError(error);
  }
}

async function setEnabled(rule, toggle) {
  toggle.disabled = true;
  try {
    const updated = await api.patch(`/api/rules/${encodeURIComponent(rule.id)}`,
      { enabled: toggle.checked });
    state.rules = state.rules.map((r) => (r.id === updated.id ? updated : r));
    showError(null);
  } catch (error) {
    showError(error);
  }
  render();
}

export function init(user) {
  state.admin = user.role === "admin";
  if (state.wired) return;
  state.wired = true;
  $("rule-filter").addEventListener("input", render);
  $("rules-refresh").addEventListener("click", load);
}

export function show() {
  render();
  load();
}
