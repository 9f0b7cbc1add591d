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
  // The samples' own range (not the metric's 0-200% bounds), so a change is visible.
  const min = Math.min(...ys);
  const max = Math.max(...ys);
  const pad = max > min ? (max - min) * 0.15 : Math.max(Math.abs(max) * 0.05, 1);
  const lo = Math.max(0, min - pad);
  const hi = max + pad;
  new uPlot(
    {
      width: 132,
      height: 30,
      pxAlign: false,
      cursor: { show: false },
      legend: { show: false },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: true }, y: { range: [lo, hi] } },
      series: [{}, { stroke: colour, width: 1.5, fill: fillColour, points: { show: false } }],
    },
    [xs, ys],
    el,
  );
  return el;
}
