// Severity (1 low – 4 critical) and triage status as small labelled badges.
import { element } from "./dom.js";
import { t } from "./i18n.js";

export function severityBadge(severity) {
  const level = Number(severity) || 0;
  const badge = element("span", `sev sev-${level}`, t(`severity.${level}`));
  badge.title = `${t("alerts.severity")} ${level}`;
  return badge;
}

export function statusOf(alert) {
  return alert?.alert?.status ?? "new";
}

export function statusBadge(status) {
  return element("span", `status status-${status}`, t(`status.${status}`));
}
