// DOM helpers. Event data comes from captured traffic and is hostile: it only ever becomes
// textContent or an attribute value, never markup.

export const $ = (id) => document.getElementById(id);

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svgElement(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

/** A dotted field of a nested event (`source.ip`), also when stored flat. */
export function field(event, dotted) {
  if (event && dotted in event) return event[dotted];
  let node = event;
  for (const part of dotted.split(".")) {
    if (node === null || typeof node !== "object" || !(part in node)) return undefined;
    node = node[part];
  }
  return node;
}

/** Every leaf of a nested object as [dotted name, value], arrays kept whole. */
export function flatten(object, prefix = "") {
  return Object.entries(object ?? {}).flatMap(([key, value]) => {
    const name = prefix ? `${prefix}.${key}` : key;
    const nested = value !== null && typeof value === "object" && !Array.isArray(value);
    return nested ? flatten(value, name) : [[name, value]];
  });
}

export function displayValue(value) {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.map(displayValue).join(", ");
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** Stored times are UTC ISO strings; tables show them to the millisecond. */
export function formatTime(timestamp) {
  return String(timestamp ?? "").replace("T", " ").replace(/(\.\d{3})\d*Z?$/, "$1");
}

/** To the second, for tables where the full time is in the tooltip. */
export function shortTime(timestamp) {
  return formatTime(timestamp).replace(/\.\d+$/, "");
}

export function endpoint(side) {
  const ip = side?.ip ?? "?";
  const host = String(ip).includes(":") ? `[${ip}]` : ip;
  return side?.port === undefined ? host : `${host}:${side.port}`;
}

export function flowText(event) {
  return `${endpoint(event.source)} → ${endpoint(event.destination)}`;
}

export function cell(text, className) {
  const node = element("td", className, text);
  node.title = text === undefined || text === null ? "" : String(text);
  return node;
}

export function button(label, className, onClick) {
  const node = element("button", className, label);
  node.type = "button";
  if (onClick) node.addEventListener("click", onClick);
  return node;
}

/** A list of labelled bars, one per {key, count} bucket; clicking one calls onPick(key). */
export function barList(buckets, onPick, labelOf = String) {
  const max = Math.max(1, ...buckets.map((b) => b.count));
  return buckets.map((bucket) => {
    const item = element("li");
    const facet = element("button", "facet");
    const bar = element("span", "bar");
    bar.style.width = `${(100 * bucket.count) / max}%`;
    facet.type = "button";
    facet.title = `${bucket.key}: ${bucket.count}`;
    facet.append(bar, element("span", "key", labelOf(bucket.key)),
      element("span", "count", bucket.count));
    if (onPick) facet.addEventListener("click", () => onPick(bucket.key));
    else facet.disabled = true;
    item.append(facet);
    return item;
  });
}

/** A Lucene term clause for a field value, quoted so addresses and spaces stay one term. */
export function termClause(name, value) {
  if (typeof value === "number" || typeof value === "boolean") return `${name}:${value}`;
  return `${name}:"${String(value).replace(/(["\\])/g, "\\$1")}"`;
}
