// The communications graph: hosts as nodes, flows as links, hosts grouped into zones.
// A host's zone is inferred from the well-known ports it serves or uses: industrial protocols
// put it in an OT cell, N2 clients in the RAN, other 5G-core interfaces in the 5G core, the
// rest in IT. Column order follows the Purdue-style reading from IT down to the field.
import { formatTime, svgElement } from "./dom.js";
import { t } from "./i18n.js";

export const ZONES = ["it", "ot", "core", "ran"];
const PORT_ZONES = {
  502: "ot", 102: "ot", 20000: "ot", 2404: "ot", 44818: "ot", 2222: "ot", 4840: "ot",
  47808: "ot", 8805: "core", 2123: "core", 3868: "core", 2152: "core", 29510: "core",
  29518: "core", 7777: "core",
};
const NGAP_PORT = 38412;
const MAX_HOSTS = 40;
const WIDTH = 600;
const ROW = 22;
const HEADER = 28;

function zoneVotes(link) {
  const port = link.port;
  if (port === NGAP_PORT) return [[link.source, "ran"], [link.destination, "core"]];
  const zone = PORT_ZONES[port];
  return zone ? [[link.source, zone], [link.destination, zone]] : [];
}

/** Links between hosts aggregated from flow events: {source, destination, port, bytes, flows}. */
export function linksFromFlows(flows) {
  const links = new Map();
  for (const flow of flows) {
    const source = flow.source?.ip;
    const destination = flow.destination?.ip;
    if (!source || !destination) continue;
    const key = `${source} ${destination}`;
    const link = links.get(key) ?? { source, destination, port: flow.destination?.port,
      bytes: 0, flows: 0, last: "" };
    link.bytes += (flow.source?.bytes ?? 0) + (flow.destination?.bytes ?? 0);
    link.flows += 1;
    link.last = flow["@timestamp"] > link.last ? flow["@timestamp"] : link.last;
    links.set(key, link);
  }
  return [...links.values()];
}

/** The zone of every host: the zone most of its links point to, IT when none does. */
export function zonesOf(hosts, links) {
  const votes = new Map(hosts.map((host) => [host, new Map()]));
  for (const [host, zone] of links.flatMap(zoneVotes)) {
    const tally = votes.get(host);
    if (tally) tally.set(zone, (tally.get(zone) ?? 0) + 1);
  }
  return new Map([...votes].map(([host, tally]) => {
    const best = [...tally].sort((a, b) => b[1] - a[1])[0];
    return [host, best ? best[0] : "it"];
  }));
}

function hostWeights(links, termBuckets) {
  const weights = new Map();
  for (const bucket of termBuckets) weights.set(String(bucket.key), bucket.count);
  for (const link of links) {
    for (const host of [link.source, link.destination]) {
      weights.set(host, (weights.get(host) ?? 0) + link.flows);
    }
  }
  return [...weights].sort((a, b) => b[1] - a[1]).slice(0, MAX_HOSTS).map(([host]) => host);
}

function compareAddresses(a, b) {
  const numeric = (ip) => ip.split(".").map((part) => part.padStart(3, "0")).join(".");
  return numeric(a).localeCompare(numeric(b));
}

function layout(hosts, zones) {
  const present = ZONES.filter((zone) => hosts.some((host) => zones.get(host) === zone));
  const columnWidth = WIDTH / Math.max(1, present.length);
  const positions = new Map();
  const columns = present.map((zone, index) => {
    const members = hosts.filter((host) => zones.get(host) === zone).sort(compareAddresses);
    members.forEach((host, row) => positions.set(host,
      { x: index * columnWidth + 14, y: HEADER + 12 + row * ROW }));
    return { zone, x: index * columnWidth, width: columnWidth, count: members.length };
  });
  return { columns, positions };
}

function linkPath(from, to) {
  if (Math.abs(from.x - to.x) < 1) {
    const bend = from.x - 12 - Math.abs(to.y - from.y) / 4;
    return `M${from.x},${from.y} Q${bend},${(from.y + to.y) / 2} ${to.x},${to.y}`;
  }
  return `M${from.x},${from.y} L${to.x},${to.y}`;
}

function drawLink(link, positions) {
  const from = positions.get(link.source);
  const to = positions.get(link.destination);
  const width = Math.min(5, 0.6 + Math.log10(1 + link.bytes) / 2);
  const path = svgElement("path", { d: linkPath(from, to), class: "link",
    "stroke-width": width.toFixed(2) });
  const tip = t("dashboard.link", { source: link.source, destination: link.destination,
    port: link.port ?? "?", flows: link.flows, bytes: link.bytes, last: formatTime(link.last) });
  path.append(svgElement("title", {}, tip));
  return path;
}

function drawHost(host, position, zone) {
  const group = svgElement("g", { class: `host zone-${zone}`, "data-host": host });
  group.append(svgElement("circle", { cx: position.x, cy: position.y, r: 5 }),
    svgElement("text", { x: position.x + 9, y: position.y + 4 }, host),
    svgElement("title", {}, host));
  return group;
}

function drawColumn(column, height) {
  const group = svgElement("g", { class: `zone zone-${column.zone}` });
  group.append(
    svgElement("rect", { x: column.x + 2, y: 2, width: column.width - 4, height: height - 4,
      rx: 4 }),
    svgElement("text", { x: column.x + 10, y: 18, class: "zone-label" },
      `${t(`zone.${column.zone}`)} (${column.count})`),
  );
  return group;
}

/** An <svg> of the hosts and links, hosts grouped in zone columns. */
export function communicationsGraph(links, termBuckets) {
  const hosts = hostWeights(links, termBuckets);
  const zones = zonesOf(hosts, links);
  const { columns, positions } = layout(hosts, zones);
  const height = HEADER + 12 + Math.max(1, ...columns.map((c) => c.count)) * ROW;
  const svg = svgElement("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: "comm-graph",
    role: "img", "aria-label": t("dashboard.graph") });
  const shown = links.filter((l) => positions.has(l.source) && positions.has(l.destination));
  svg.append(...columns.map((column) => drawColumn(column, height)),
    ...shown.map((link) => drawLink(link, positions)),
    ...hosts.map((host) => drawHost(host, positions.get(host), zones.get(host))));
  return svg;
}
