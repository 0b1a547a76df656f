// The alert detail's response part (analysts): download the alert's packets as a pcap, and
// perform an action (block, isolate, quarantine) with a reason, as a dry run or for real; the
// record comes back with the artefacts to copy, and the alert's earlier actions are listed.
import { api } from "./api.js";
import { button, element, formatTime } from "./dom.js";
import { t } from "./i18n.js";

const KINDS = ["block", "isolate", "quarantine"];

function pcapLink(alertId) {
  const link = element("a", "button pcap-download", t("response.download_pcap"));
  link.id = "alert-pcap";
  link.href = `/api/alerts/${encodeURIComponent(alertId)}/pcap`;
  link.setAttribute("download", `alert-${alertId}.pcap`);
  return link;
}

function artefactBlock(name, text) {
  const block = element("details", "artefact");
  block.open = true;
  block.dataset.artefact = name;
  block.append(element("summary", "", t(`response.artefact_${name}`)),
    element("pre", "mono", text));
  return block;
}

function recordView(record) {
  const node = element("div", "action-record");
  node.dataset.id = record.id;
  node.dataset.status = record.status;
  const title = `${t(`response.${record.kind}`)} · ${record.target?.ip ?? ""} · ` +
    `${t(`response.status_${record.status}`)}`;
  node.append(element("p", "action-title", title),
    element("p", "muted", `${record.actor} · ${formatTime(record.at)} · ${record.reason}` +
      (record.detail ? ` · ${record.detail}` : "")));
  for (const [name, text] of Object.entries(record.artefacts ?? {})) {
    node.append(artefactBlock(name, text));
  }
  node.append(artefactBlock("payload", JSON.stringify(record.payload, null, 2)));
  return node;
}

function form(alertId, results) {
  const box = element("div", "response-form");
  const reason = element("input", "response-reason");
  reason.id = "response-reason";
  reason.placeholder = t("response.reason_placeholder");
  reason.setAttribute("aria-label", t("response.reason"));
  const target = element("select", "response-target");
  target.id = "response-target";
  target.setAttribute("aria-label", t("response.target"));
  for (const side of ["source", "destination"]) {
    const option = element("option", "", t(`response.target_${side}`));
    option.value = side;
    target.append(option);
  }
  const dryRun = element("input");
  dryRun.type = "checkbox";
  dryRun.id = "response-dry-run";
  dryRun.checked = true;
  const dryLabel = element("label", "dry-run", t("response.dry_run"));
  dryLabel.prepend(dryRun);
  const error = element("p", "error", "");
  error.hidden = true;
  error.setAttribute("role", "alert");
  const buttons = KINDS.map((kind) => {
    const node = button(t(`response.${kind}`), `response-action action-${kind}`, async () => {
      if (reason.value.trim().length < 3) {
        error.textContent = t("response.reason_needed");
        error.hidden = false;
        return;
      }
      try {
        const record = await api.post(`/api/alerts/${encodeURIComponent(alertId)}/actions`,
          { kind, reason: reason.value.trim(), dry_run: dryRun.checked, target: target.value });
        error.hidden = true;
        results.prepend(recordView(record));
      } catch (err) {
        error.textContent = t("error.action", { message: err.message });
        error.hidden = false;
      }
    });
    node.dataset.kind = kind;
    return node;
  });
  box.append(reason, target, dryLabel, ...buttons, error);
  return box;
}

async function loadEarlier(alertId, results) {
  try {
    const earlier = await api.get("/api/actions", { alert_id: alertId });
    results.append(...earlier.data.map(recordView));
  } catch {
    // Viewers cannot list actions; the section is hidden for them anyway.
  }
}

/** The response section of the alert ``alert`` (hidden from viewers by its class). */
export function responseSection(alert) {
  const alertId = alert.event.id;
  const node = element("section", "detail-section response needs-analyst");
  node.id = "alert-response";
  const results = element("div", "action-records");
  results.id = "action-records";
  node.append(element("h4", "", t("response.title")), pcapLink(alertId),
    form(alertId, results), results);
  loadEarlier(alertId, results);
  return node;
}
