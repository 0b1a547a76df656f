// Assets: the hosts discovered from traffic, riskiest first, with filters; #/assets/<ip> opens
// the detail panel with fingerprints, peers and recent alerts.
import { api } from "./api.js";
import { $, button, cell, displayValue, element, field, formatTime, shortTime } from "./dom.js";
import { t } from "./i18n.js";
import { severityBadge } from "./severity.js";
import { loadReporting } from "./errors.js";

const PAGE_SIZE = 200;
const ZONES = ["ot", "5gc", "ran", "it", "dmz"];
const ROLES = ["master", "plc", "hmi", "outstation", "controlling_station",
  "controlled_station", "enip_client", "enip_server", "opcua_client", "opcua_server",
  "bacnet_client", "bacnet_device", "gnb", "amf", "smf", "upf", "nrf", "udm", "ausf", "pcf",
  "scp", "hss", "pcrf", "gtpu_endpoint"];
const PROTOCOLS = ["modbus", "dnp3", "s7comm", "iec104", "enip", "opcua", "bacnet", "ngap",
  "nas5gs", "pfcp", "gtpv2", "gtpu", "sbi", "diameter"];
const state = { wired: false, rows: [], count: 0, openIp: null, generation: 0 };

/** A role's label: translated where the catalogue has it, else the NF type in capitals. */
export function roleLabel(role) {
  const key = `role.${role}`;
  const text = t(key);
  return text === key ? String(role).toUpperCase() : text;
}

export function zoneLabel(zone) {
  const key = `zone.${zone}`;
  const text = t(key);
  return text === key ? zone : text;
}

function fillSelect(id, values, labelOf) {
  const select = $(id);
  const chosen = select.value;
  const any = element("option", "", t("assets.any"));
  any.value = "";
  select.replaceChildren(any, ...values.map((value) => {
    const option = element("option", "", labelOf(value));
    option.value = value;
    return option;
  }));
  select.value = chosen;
}

function fillFilters() {
  fillSelect("asset-zone", ZONES, zoneLabel);
  fillSelect("asset-role", ROLES, roleLabel);
  fillSelect("asset-protocol", PROTOCOLS, String);
}

function filters() {
  return { q: $("asset-query").value.trim(), zone: $("asset-zone").value,
    role: $("asset-role").value, protocol: $("asset-protocol").value,
    sort: $("asset-sort").value, size: PAGE_SIZE };
}

// ---- table -------------------------------------------------------------------------------

function chips(values, labelOf = String) {
  const node = element("td", "col-chips");
  node.append(...values.map((value) => element("span", "chip", labelOf(value))));
  node.title = values.map(labelOf).join(", ");
  return node;
}

function assetRow(asset) {
  const row = element("tr");
  row.dataset.ip = asset.ip;
  row.tabIndex = 0;
  row.classList.toggle("open", asset.ip === state.openIp);
  const risk = element("td", "col-sev");
  risk.append(severityBadge(asset.risk.max_severity));
  const seen = cell(shortTime(asset.last_seen), "col-time");
  seen.title = formatTime(asset.last_seen);
  row.append(risk, cell(asset.ip, "col-ip mono"), chips(asset.roles, roleLabel),
    cell(zoneLabel(asset.zone), "col-zone"), cell(asset.vendor ?? "", "col-vendor"),
    chips(Object.keys(asset.protocols)), seen, cell(asset.risk.alerts, "col-count"));
  const open = () => { location.hash = `#/assets/${encodeURIComponent(asset.ip)}`; };
  row.addEventListener("click", open);
  row.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
  return row;
}

function render() {
  $("asset-rows").replaceChildren(...state.rows.map(assetRow));
  $("assets-empty").hidden = state.rows.length > 0;
  $("assets-count").textContent = t("assets.count", { shown: state.rows.length,
    count: state.count });
}

async function load() {
  const generation = ++state.generation;
  const page = await api.get("/api/assets", filters());
  if (generation !== state.generation) return;
  state.rows = page.data;
  state.count = page.count;
  render();
}

// ---- detail ------------------------------------------------------------------------------

function definitions(pairs) {
  const list = element("dl", "fields");
  for (const [name, value] of pairs) {
    if (value === undefined || value === null || value === "") continue;
    list.append(element("dt", "", name), element("dd", "", displayValue(value)));
  }
  return list;
}

function summarySection(asset) {
  return definitions([
    [t("assets.ip"), asset.ip], [t("assets.macs"), asset.macs],
    [t("assets.gateway_macs"), asset.gateway_macs?.length ? asset.gateway_macs : null],
    [t("assets.vendor"), asset.vendor], [t("assets.roles"), asset.roles.map(roleLabel)],
    [t("assets.zone"), zoneLabel(asset.zone)], [t("assets.configured"), asset.configured.name],
    [t("assets.first_seen"), formatTime(asset.first_seen)],
    [t("assets.last_seen"), formatTime(asset.last_seen)], [t("assets.events"), asset.events],
    [t("assets.protocols"), Object.entries(asset.protocols).map(([p, n]) => `${p} (${n})`)],
    [t("assets.risk"), t("assets.risk_text", { alerts: asset.risk.alerts,
      severity: asset.risk.max_severity, score: asset.risk.score })],
  ]);
}

function fingerprintSection(asset) {
  const section = element("section", "fingerprints");
  section.append(element("h4", "", t("assets.fingerprints")));
  const entries = Object.entries(asset.fingerprints);
  if (!entries.length) section.append(element("p", "muted", t("assets.no_fingerprints")));
  for (const [source, values] of entries) {
    section.append(element("h5", "", t(`fingerprint.${source}`)),
      definitions(Object.entries(values)));
  }
  return section;
}

function peerSection(peers) {
  const section = element("section", "peers");
  section.append(element("h4", "", t("assets.peers", { count: peers.length })));
  const table = element("table", "grid compact");
  const head = element("tr");
  head.append(element("th", "", t("assets.ip")), element("th", "", t("assets.protocols")),
    element("th", "", t("assets.events")), element("th", "", t("assets.last_seen")));
  table.append(element("thead"), element("tbody"));
  table.tHead.append(head);
  for (const peer of peers) {
    const row = element("tr");
    row.append(cell(peer.ip, "mono"), cell(Object.keys(peer.protocols).join(", ")),
      cell(peer.count), cell(shortTime(peer.last_seen)));
    row.addEventListener("click", () => { location.hash = `#/assets/${peer.ip}`; });
    table.tBodies[0].append(row);
  }
  section.append(table);
  return section;
}

function alertSection(alerts) {
  const section = element("section", "asset-alerts");
  section.append(element("h4", "", t("assets.recent_alerts")));
  if (!alerts.length) section.append(element("p", "muted", t("assets.no_alerts")));
  const list = element("ul", "alert-list");
  for (const alert of alerts) {
    const item = element("li");
    const link = element("a", "", field(alert, "rule.name") ?? field(alert, "rule.id"));
    link.href = `#/alerts/${encodeURIComponent(field(alert, "event.id"))}`;
    item.append(severityBadge(field(alert, "event.severity")), " ",
      element("span", "muted", shortTime(alert["@timestamp"])), " ", link);
    list.append(item);
  }
  section.append(list);
  return section;
}

function renderDetail({ asset, peers, alerts }) {
  const head = element("div", "detail-head");
  head.append(element("h3", "mono", asset.ip), button("×", "close", closeDetail));
  head.lastChild.setAttribute("aria-label", t("action.close"));
  const hunt = element("a", "hunt-link", t("assets.hunt"));
  hunt.href = `#/hunt/${encodeURIComponent(`source.ip:"${asset.ip}" OR destination.ip:"${asset.ip}"`)}`;
  $("asset-detail").replaceChildren(head, summarySection(asset), hunt, fingerprintSection(asset),
    peerSection(peers), alertSection(alerts));
  $("asset-detail").hidden = false;
}

async function openDetail(ip) {
  state.openIp = ip;
  for (const row of $("asset-rows").children) row.classList.toggle("open", row.dataset.ip === ip);
  try {
    renderDetail(await api.get(`/api/assets/${encodeURIComponent(ip)}`));
  } catch (err) {
    $("asset-detail").replaceChildren(element("p", "error", err.message));
    $("asset-detail").hidden = false;
  }
}

function closeDetail() {
  state.openIp = null;
  $("asset-detail").hidden = true;
  if (location.hash.startsWith("#/assets/")) location.hash = "#/assets";
}

// ---- view contract -----------------------------------------------------------------------

function loadSafely() {
  return loadReporting(load);
}

function wire() {
  $("asset-filters").addEventListener("submit", (e) => { e.preventDefault(); loadSafely(); });
  for (const id of ["asset-zone", "asset-role", "asset-protocol", "asset-sort"]) {
    $(id).addEventListener("change", loadSafely);
  }
}

export function init() {
  if (!state.wired) wire();
  state.wired = true;
}

/** `arg`, when given, is the address whose detail to open. */
export function show(arg) {
  fillFilters();
  loadSafely();
  if (arg) openDetail(arg);
  else closeDetail();
}
