// Webhook deliveries (admins), inside the settings view's <section id="settings-webhooks">: the
// configured targets with their counts, the latest deliveries, and the dead letters, each with a
// replay button. The settings view dispatches "settings-show" and "settings-hide" there.
import { api } from "./api.js";
import { $, button, cell, element, formatTime, shortTime } from "./dom.js";
import { t } from "./i18n.js";

const SIZE = 50;
const state = { generation: 0 };

function unixTime(seconds) {
  const iso = new Date(seconds * 1000).toISOString();
  const node = cell(shortTime(iso), "col-time");
  node.title = formatTime(iso);
  return node;
}

function table(headKeys, rows, emptyKey) {
  const node = element("table", "grid compact");
  const head = element("tr");
  for (const key of headKeys) head.append(element("th", "", key ? t(key) : ""));
  node.append(element("thead"), element("tbody"));
  node.tHead.append(head);
  if (rows.length) node.tBodies[0].append(...rows);
  else {
    const empty = element("td", "muted", t(emptyKey));
    empty.colSpan = headKeys.length;
    const row = element("tr");
    row.append(empty);
    node.tBodies[0].append(row);
  }
  return node;
}

function targetRow(target) {
  const row = element("tr");
  row.dataset.webhook = target.name;
  row.append(cell(target.name), cell(target.format), cell(target.url, "mono"),
    cell(target.delivered, "col-count delivered"), cell(target.pending, "col-count pending"),
    cell(target.dead, "col-count dead"));
  return row;
}

function statusCell(status) {
  return cell(t(`webhooks.status_${status}`), `webhook-status status-${status}`);
}

function deliveryRow(message) {
  const row = element("tr");
  row.append(unixTime(message.at), cell(message.webhook), statusCell(message.status),
    cell(message.alert_ids.length), cell(message.attempts), cell(message.detail));
  return row;
}

function deadRow(message) {
  const row = deliveryRow(message);
  row.dataset.key = message.key;
  const replay = button(t("webhooks.replay"), "replay", () => replayLetter(message));
  replay.setAttribute("aria-label", t("webhooks.replay_letter", { key: message.key }));
  const actions = element("td", "col-actions");
  actions.append(replay);
  row.append(actions);
  return row;
}

const MESSAGE_HEAD = ["col.time", "webhooks.webhook", "webhooks.status", "webhooks.alerts",
  "webhooks.attempts", "webhooks.detail"];

function render(targets, deliveries, dead) {
  const note = element("p", "muted note", "");
  note.id = "webhooks-note";
  const error = element("p", "error", "");
  error.id = "webhooks-error";
  error.setAttribute("role", "alert");
  error.hidden = true;
  $("settings-webhooks").replaceChildren(
    element("h3", "", t("webhooks.title")),
    table(["webhooks.name", "webhooks.format", "webhooks.url", "webhooks.delivered",
      "webhooks.pending", "webhooks.dead"], targets.data.map(targetRow), "webhooks.no_targets"),
    element("h4", "", t("webhooks.dead_letters")),
    table([...MESSAGE_HEAD, ""], dead.data.map(deadRow), "webhooks.no_dead_letters"),
    note, error,
    element("h4", "", t("webhooks.deliveries")),
    table(MESSAGE_HEAD, deliveries.data.map(deliveryRow), "webhooks.no_deliveries"));
  $("settings-webhooks").querySelector("table").id = "webhook-targets";
  $("settings-webhooks").querySelectorAll("table")[1].id = "webhook-dead-letters";
  $("settings-webhooks").querySelectorAll("table")[2].id = "webhook-deliveries";
}

async function load() {
  const generation = ++state.generation;
  try {
    const [targets, deliveries, dead] = await Promise.all([api.get("/api/webhooks"),
      api.get("/api/webhooks/deliveries", { size: SIZE }),
      api.get("/api/webhooks/dead-letters", { size: SIZE })]);
    if (generation === state.generation) render(targets, deliveries, dead);
  } catch (err) {
    $("settings-webhooks").replaceChildren(element("h3", "", t("webhooks.title")),
      element("p", "error", t("error.load", { message: err.message })));
  }
}

async function replayLetter(message) {
  const params = `?webhook=${encodeURIComponent(message.webhook)}`;
  try {
    const done = await api.post(
      `/api/webhooks/dead-letters/${encodeURIComponent(message.key)}/replay${params}`);
    await load();
    $("webhooks-note").textContent = t("webhooks.replayed", { count: done.replayed });
  } catch (err) {
    $("webhooks-error").textContent = t("error.action", { message: err.message });
    $("webhooks-error").hidden = false;
  }
}

function wire() {
  const section = $("settings-webhooks");
  if (!section) return;
  section.addEventListener("settings-show", load);
  section.addEventListener("settings-hide", () => { state.generation += 1; });
}

wire();
