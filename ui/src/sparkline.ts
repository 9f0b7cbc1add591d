// A metric's samples as a small uPlot line: no axes or legend, the last value beside it.
import uPlot from "uplot";
import type { MetricRow } from "./types";

export function sparkline(metric: MetricRow, colour: string, fillColour: string): HTMLElement | null {
  const samples = metric.samples ?? [];
  if (samples.length < 2) return null;
  const xs = samples.map((s) => new Date(s.date).getTime() / 1000);
  const ys = samples.map((s) => s.value);
  const el = document.createElement("div");
  el.className = "sparkline";
  const lo = Math.min(metric.min ?? Math.min(...ys), ...ys);
  const hi = Math.max(metric.max ?? Math.max(...ys), ...ys);
  new uPlot(
    {
      width: 132,
      height: 30,
      pxAlign: false,
      cursor: { show: false },
      legend: { show: false },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: true }, y: { range: [lo, hi > lo ? hi : lo + 1] } },
      series: [{}, { stroke: colour, width: 1.5, fill: fillColour, points: { show: false } }],
    },
    [xs, ys],
    el,
  );
  return el;
}
