// The triage bar of an alert or an incident: a button per status, and an assignee box.
import { button, element } from "./dom.js";
import { t } from "./i18n.js";

const STATUSES = ["acknowledged", "in_progress", "closed_true_positive", "closed_false_positive"];

// `patch(changes)` sends `{status}` or `{assignee}`; `inputId` names the assignee box.
export function triageBar({ status, assignee, inputId, patch }) {
  const bar = element("div", "detail-actions needs-analyst");
  for (const next of STATUSES) {
    const node = button(t(`status.${next}`), `status-action status-${next}`,
      () => patch({ status: next }));
    node.dataset.status = next;
    node.disabled = status === next;
    bar.append(node);
  }
  const box = element("input", "assignee");
  box.id = inputId;
  box.value = assignee ?? "";
  box.placeholder = t("alerts.assignee");
  box.setAttribute("aria-label", t("alerts.assignee"));
  bar.append(box, button(t("action.assign"), "",
    () => patch({ assignee: box.value.trim() || null })));
  return bar;
}
