// A small SVG time chart: one bar per {key: ISO time, count} bucket on a true time axis.
import { formatTime, svgElement } from "./dom.js";

const MARGIN = { top: 14, right: 6, bottom: 16, left: 34 };

function bucketWidthMs(times, intervalMs) {
  if (intervalMs) return intervalMs;
  const gaps = times.slice(1).map((time, i) => time - times[i]).filter((gap) => gap > 0);
  return gaps.length ? Math.min(...gaps) : 60_000;
}

function axisLabels(start, end, max, width, height) {
  const bottom = height - 4;
  return [
    svgElement("text", { x: MARGIN.left, y: bottom, class: "axis" }, formatTime(new Date(start)
      .toISOString())),
    svgElement("text", { x: width - MARGIN.right, y: bottom, class: "axis end" },
      formatTime(new Date(end).toISOString())),
    svgElement("text", { x: MARGIN.left - 4, y: MARGIN.top + 4, class: "axis end" }, max),
    svgElement("text", { x: MARGIN.left - 4, y: height - MARGIN.bottom, class: "axis end" }, 0),
    svgElement("line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: height - MARGIN.bottom,
      y2: height - MARGIN.bottom, class: "baseline" }),
  ];
}

function bar(bucket, geometry) {
  const { start, span, widthMs, max, plotWidth, plotHeight } = geometry;
  const x = MARGIN.left + (plotWidth * (Date.parse(bucket.key) - start)) / span;
  const barHeight = Math.max(1, (plotHeight * bucket.count) / max);
  const rect = svgElement("rect", {
    x: x.toFixed(2), y: (MARGIN.top + plotHeight - barHeight).toFixed(2),
    width: Math.max(2, (plotWidth * widthMs) / span - 1).toFixed(2),
    height: barHeight.toFixed(2), class: "bar",
  });
  rect.append(svgElement("title", {}, `${formatTime(bucket.key)}: ${bucket.count}`));
  return rect;
}

/** An <svg> of `width`×`height` pixels drawing `buckets`; `intervalMs` is the bucket width
 * when known. */
export function timeChart(buckets, { width = 600, height = 120, intervalMs, label = "" } = {}) {
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, width, height,
    class: "time-chart",
    role: "img", "aria-label": label });
  if (!buckets.length) return svg;
  const times = buckets.map((b) => Date.parse(b.key));
  const widthMs = bucketWidthMs(times, intervalMs);
  const start = Math.min(...times);
  const end = Math.max(...times) + widthMs;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const geometry = { start, span: end - start, widthMs, max,
    plotWidth: width - MARGIN.left - MARGIN.right,
    plotHeight: height - MARGIN.top - MARGIN.bottom };
  svg.append(...axisLabels(start, end, max, width, height),
    ...buckets.map((b) => bar(b, geometry)));
  return svg;
}
