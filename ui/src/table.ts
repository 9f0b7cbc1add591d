// Table mode: one row per node, sortable columns from the nodes' metadata and metrics, and
// only the visible rows in the DOM (@tanstack/virtual-core), so 20,000 rows scroll smoothly.
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect } from "@tanstack/virtual-core";
import { fill, h } from "./dom";
import * as fmt from "./format";
import type { Matcher } from "./search";
import type { NodeSummary } from "./types";

interface ColumnDef {
  id: string;
  label: string;
  kind: "label" | "meta" | "metric";
  numeric: boolean;
  format?: string;
}

const ROW_HEIGHT = 30;
const MAX_META = 5;
const MAX_METRICS = 4;

export class TableView {
  readonly root: HTMLElement;
  private header = h("div", { class: "trow thead", role: "row" });
  private scroller = h("div", { class: "tscroll", tabindex: "0" });
  private spacer = h("div", { class: "tspacer" });
  private columns: ColumnDef[] = [];
  private rows: NodeSummary[] = [];
  private sort: { col: string; desc: boolean } = { col: "label", desc: false };
  private virtualizer: Virtualizer<HTMLElement, HTMLElement>;
  private selected: string | null = null;
  private nodes = new Map<string, NodeSummary>();
  private matcher: Matcher | null = null;
  private pending = false;
  onSelect: (id: string) => void = () => {};

  constructor() {
    this.scroller.append(this.spacer);
    this.root = h("div", { class: "table", role: "table" }, this.header, this.scroller);
    this.virtualizer = new Virtualizer<HTMLElement, HTMLElement>({
      count: 0,
      getScrollElement: () => this.scroller,
      estimateSize: () => ROW_HEIGHT,
      overscan: 12,
      scrollToFn: elementScroll,
      observeElementRect,
      observeElementOffset,
      onChange: () => this.renderRows(),
    });
    this.virtualizer._didMount();
    this.scroller.addEventListener("click", (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>("[data-id]");
      if (row?.dataset.id) this.onSelect(row.dataset.id);
    });
  }

  /** The table's data changed (nodes or search); recomputed once per frame at most. */
  update(nodes: Map<string, NodeSummary>, matcher: Matcher | null): void {
    this.nodes = nodes;
    this.matcher = matcher;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.recompute();
    });
  }

  /** Recomputes now (tests and the first paint do not wait for a frame). */
  recompute(): void {
    this.columns = columnsFor(this.nodes);
    if (!this.columns.some((c) => c.id === this.sort.col)) this.sort = { col: "label", desc: false };
    const rows = [...this.nodes.values()].filter((n) => !this.matcher || this.matcher(n));
    rows.sort(comparator(this.columns.find((c) => c.id === this.sort.col)!, this.sort.desc));
    this.rows = rows;
    this.renderHeader();
    this.virtualizer.setOptions({ ...this.virtualizer.options, count: rows.length });
    this.virtualizer._willUpdate();
    this.virtualizer.measure();
    this.renderRows();
  }

  rowCount(): number {
    return this.rows.length;
  }

  select(id: string | null): void {
    this.selected = id;
    this.renderRows();
  }

  /** Moves the selection `delta` rows (arrow keys) and returns the new node id. */
  move(delta: number): string | null {
    if (this.rows.length === 0) return null;
    const at = this.rows.findIndex((r) => r.id === this.selected);
    const next = Math.max(0, Math.min(this.rows.length - 1, at < 0 ? 0 : at + delta));
    this.virtualizer.scrollToIndex(next, { align: "auto" });
    return this.rows[next].id;
  }

  private template(): string {
    return this.columns.map((c) => (c.kind === "label" ? "minmax(220px, 2.2fr)" : c.kind === "metric" ? "minmax(90px, 0.8fr)" : "minmax(110px, 1fr)")).join(" ");
  }

  private renderHeader(): void {
    this.root.style.setProperty("--cols", this.template());
    fill(
      this.header,
      this.columns.map((c) =>
        h(
          "button",
          {
            class: `th${c.numeric ? " num" : ""}${this.sort.col === c.id ? " sorted" : ""}`,
            role: "columnheader",
            "aria-sort": this.sort.col === c.id ? (this.sort.desc ? "descending" : "ascending") : "none",
            onclick: () => {
              this.sort = { col: c.id, desc: this.sort.col === c.id ? !this.sort.desc : c.numeric };
              this.recompute();
            },
          },
          c.label,
          this.sort.col === c.id ? h("span", { class: "arrow" }, this.sort.desc ? "▼" : "▲") : null,
        ),
      ),
    );
  }

  private renderRows(): void {
    this.virtualizer._willUpdate();
    this.spacer.style.height = `${this.virtualizer.getTotalSize()}px`;
    const items = this.virtualizer.getVirtualItems();
    fill(
      this.spacer,
      items.map((item) => {
        const n = this.rows[item.index];
        if (!n) return null;
        return h(
          "div",
          {
            class: `trow${n.id === this.selected ? " selected" : ""}${n.pseudo ? " pseudo" : ""}`,
            role: "row",
            "data-id": n.id,
            style: `transform: translateY(${item.start}px)`,
          },
          this.columns.map((c) => cell(n, c)),
        );
      }),
    );
  }
}

function cell(n: NodeSummary, c: ColumnDef): HTMLElement {
  if (c.kind === "label") {
    return h("div", { class: "td label", title: n.id }, h("span", { class: "primary" }, n.label || n.id), n.labelMinor ? h("span", { class: "minor" }, n.labelMinor) : null);
  }
  if (c.kind === "metric") {
    const m = n.metrics?.find((x) => x.id === c.id);
    return h("div", { class: "td num" }, m ? fmt.metric(m.value, m.format) : "");
  }
  const m = n.metadata?.find((x) => x.id === c.id);
  return h("div", { class: `td${c.numeric ? " num" : ""}`, title: m?.value ?? "" }, m ? fmt.metadataValue(m.value, m.dataType) : "");
}

function value(n: NodeSummary, c: ColumnDef): string | number | undefined {
  if (c.kind === "label") return (n.label || n.id).toLowerCase();
  if (c.kind === "metric") return n.metrics?.find((m) => m.id === c.id)?.value;
  const v = n.metadata?.find((m) => m.id === c.id)?.value;
  if (v === undefined) return undefined;
  return c.numeric ? Number(v) : v.toLowerCase();
}

function comparator(c: ColumnDef, desc: boolean): (a: NodeSummary, b: NodeSummary) => number {
  const sign = desc ? -1 : 1;
  return (a, b) => {
    const x = value(a, c);
    const y = value(b, c);
    // Empty cells last whichever way the column sorts.
    if (x === undefined || (typeof x === "number" && Number.isNaN(x))) return y === undefined ? 0 : 1;
    if (y === undefined || (typeof y === "number" && Number.isNaN(y))) return -1;
    const r = x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : 1;
    return r * sign;
  };
}

/** The label, then the metadata most nodes have, then the metrics, each by Scope's priority. */
function columnsFor(nodes: Map<string, NodeSummary>): ColumnDef[] {
  const meta = new Map<string, { label: string; count: number; priority: number; numeric: boolean }>();
  const metrics = new Map<string, { label: string; priority: number; format?: string }>();
  for (const n of nodes.values()) {
    for (const m of n.metadata ?? []) {
      const e = meta.get(m.id);
      if (e) e.count++;
      else meta.set(m.id, { label: m.label, count: 1, priority: m.priority ?? 99, numeric: m.dataType === "number" });
    }
    for (const m of n.metrics ?? []) {
      if (!metrics.has(m.id)) metrics.set(m.id, { label: m.label, priority: m.priority ?? 99, format: m.format });
    }
  }
  const metaCols = [...meta.entries()]
    .filter(([id]) => id !== "cmdline" || meta.size <= MAX_META)
    .sort((a, b) => b[1].count - a[1].count || a[1].priority - b[1].priority)
    .slice(0, MAX_META)
    .sort((a, b) => a[1].priority - b[1].priority)
    .map(([id, e]): ColumnDef => ({ id, label: e.label, kind: "meta", numeric: e.numeric }));
  const metricCols = [...metrics.entries()]
    .sort((a, b) => a[1].priority - b[1].priority)
    .slice(0, MAX_METRICS)
    .map(([id, e]): ColumnDef => ({ id, label: e.label, kind: "metric", numeric: true, format: e.format }));
  return [{ id: "label", label: "Node", kind: "label", numeric: false }, ...metaCols, ...metricCols];
}
