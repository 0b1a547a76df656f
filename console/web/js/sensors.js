// Sensors: every sensor that sends heartbeats, with its counters and whether it has gone quiet
// (stale: no heartbeat within console.sensor_stale_s). Refreshed while the view is open.
import { api } from "./api.js";
import { $, cell, element, formatTime, shortTime } from "./dom.js";
import { t } from "./i18n.js";

const REFRESH_MS = 10_000;
const state = { wired: false, timer: null, generation: 0 };

function statusCell(sensor) {
  const node = element("td", "col-status");
  const key = sensor.stale ? "sensors.stale" : "sensors.live";
  node.append(element("span", `chip ${sensor.stale ? "stale" : "live"}`, t(key)));
  return node;
}

function timeCell(timestamp) {
  const node = cell(shortTime(timestamp), "col-time");
  node.title = formatTime(timestamp);
  return node;
}

function sensorRow(sensor) {
  const row = element("tr");
  row.dataset.name = sensor.name;
  row.classList.toggle("stale", sensor.stale);
  const count = (n) => cell(Number(n).toLocaleString(), "col-count");
  row.append(statusCell(sensor), cell(sensor.name, "mono"), cell(sensor.version),
    count(sensor.packets), count(sensor.drops), count(sensor.events),
    cell(`${Number(sensor.lag).toFixed(1)} s`, "col-count"), timeCell(sensor.last_seen),
    timeCell(sensor.started), cell(sensor.source_ip, "col-ip mono"));
  return row;
}

async function load() {
  const generation = ++state.generation;
  try {
    const listed = await api.get("/api/sensors");
    if (generation !== state.generation) return;
    $("sensor-rows").replaceChildren(...listed.data.map(sensorRow));
    $("sensors-empty").hidden = listed.count > 0;
    $("sensors-error").hidden = true;
  } catch (error) {
    $("sensors-error").textContent = t("sensors.error", { reason: error.message });
    $("sensors-error").hidden = false;
  }
}

export function init() {
  if (state.wired) return;
  state.wired = true;
  $("sensors-refresh").addEventListener("click", load);
}

export function show() {
  load();
  clearInterval(state.timer);
  state.timer = setInterval(load, REFRESH_MS);
}

export function hide() {
  clearInterval(state.timer);
  state.timer = null;
}

export function stop() {
  hide();
}
