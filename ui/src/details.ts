// The details panel: a node's metadata, metrics with sparklines, parents, children and
// connections, from `/api/topology/{view}/{id}`. Every link moves to that node in its own view.
import { ApiError, getJson } from "./api";
import { fill, h } from "./dom";
import * as fmt from "./format";
import { sparkline } from "./sparkline";
import { current as currentTheme } from "./theme";
import type { ChildTable, ConnectionTable, DetailedNode, MetadataRow } from "./types";

export type Navigate = (view: string, id: string) => void;

export class DetailsPanel {
  readonly root = h("aside", { class: "details", hidden: true, "aria-label": "Node details" });
  private body = h("div", { class: "details-body" });
  private header = h("header", { class: "details-head" });
  private abort: AbortController | null = null;
  private key = "";
  onClose: () => void = () => {};
  onNavigate: Navigate = () => {};
  /** Views by id, for naming a link's target view. */
  viewNames = new Map<string, string>();
  lastError: string | null = null;

  constructor() {
    this.root.append(this.header, this.body);
  }

  isOpen(): boolean {
    return !this.root.hidden;
  }

  close(): void {
    this.abort?.abort();
    this.key = "";
    this.root.hidden = true;
  }

  /** Shows `id` of `view`; `query` carries the options and timestamp. Refreshes keep the scroll. */
  async show(view: string, id: string, query: string, label?: string): Promise<void> {
    const key = `${view}\n${id}`;
    const fresh = key !== this.key;
    this.key = key;
    this.root.hidden = false;
    if (fresh) {
      this.renderHeader(label ?? id, "", view);
      fill(this.body, h("div", { class: "loading" }, "Loading details…"));
    }
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    try {
      const path = `api/topology/${encodeURIComponent(view)}/${encodeURIComponent(id)}${query ? `?${query}` : ""}`;
      const { node } = await getJson<{ node: DetailedNode }>(path, null, abort.signal);
      if (this.key !== key) return;
      this.lastError = null;
      const scroll = this.body.scrollTop;
      this.render(view, node);
      this.body.scrollTop = fresh ? 0 : scroll;
    } catch (e) {
      if ((e as Error).name === "AbortError" || this.key !== key) return;
      this.lastError = e instanceof ApiError && e.status === 404 ? "This node is no longer in the view." : `Could not load details: ${(e as Error).message}`;
      if (fresh) fill(this.body, h("div", { class: "empty" }, this.lastError));
    }
  }

  private renderHeader(label: string, minor: string, view: string): void {
    fill(
      this.header,
      h(
        "div",
        { class: "details-title" },
        h("div", { class: "kicker" }, this.viewNames.get(view) ?? view),
        h("h2", { title: label }, label),
        minor ? h("div", { class: "minor" }, minor) : null,
      ),
      h("button", { class: "icon close", title: "Close (Esc)", "aria-label": "Close details", onclick: () => this.onClose() }, "✕"),
    );
  }

  private render(view: string, node: DetailedNode): void {
    this.renderHeader(node.label || node.id, node.labelMinor, view);
    fill(
      this.body,
      node.parents?.length ? this.section("Parents", h("div", { class: "chips" }, node.parents.map((p) => this.link(p.topologyId, p.id, p.label, this.viewNames.get(p.topologyId))))) : null,
      node.metrics?.length ? this.section("Metrics", this.metrics(node)) : null,
      node.metadata?.length ? this.section("Info", this.metadata(node.metadata)) : null,
      (node.children ?? []).map((t) => this.section(`${t.label} (${t.nodes?.length ?? 0})`, this.children(t))),
      (node.connections ?? []).map((t) => this.section(`${t.label} connections (${t.connections?.length ?? 0})`, this.connections(t))),
      node.pseudo ? h("p", { class: "note" }, "A pseudo node: it stands for endpoints outside the reporting hosts.") : null,
    );
  }

  private section(title: string, content: Node): HTMLElement {
    return h("section", null, h("h3", null, title), content);
  }

  private link(view: string, id: string, label: string, hint?: string): HTMLElement {
    return h(
      "a",
      {
        class: "chip",
        href: `?view=${encodeURIComponent(view)}&node=${encodeURIComponent(id)}`,
        title: hint ? `${label} in ${hint}` : label,
        onclick: (e: Event) => {
          const m = e as MouseEvent;
          if (m.ctrlKey || m.metaKey || m.shiftKey || m.button !== 0) return; // a new tab opens it
          e.preventDefault();
          this.onNavigate(view, id);
        },
      },
      hint ? h("span", { class: "chip-kind" }, hint) : null,
      label || id,
    );
  }

  private metrics(node: DetailedNode): HTMLElement {
    const theme = currentTheme();
    return h(
      "div",
      { class: "metrics" },
      (node.metrics ?? []).map((m) =>
        h(
          "div",
          { class: "metric", "data-metric": m.id },
          h("div", { class: "metric-label" }, m.label),
          sparkline(m, theme.accent, theme.dark ? "rgba(96,165,250,0.15)" : "rgba(37,99,235,0.10)") ?? h("div", { class: "sparkline none" }),
          h("div", { class: "metric-value" }, m.valueEmpty ? "—" : fmt.metric(m.value, m.format)),
        ),
      ),
    );
  }

  private metadata(rows: MetadataRow[]): HTMLElement {
    return h(
      "dl",
      { class: "meta" },
      rows.map((m) => [h("dt", null, m.label), h("dd", { title: m.value }, fmt.metadataValue(m.value, m.dataType))]),
    );
  }

  private children(t: ChildTable): HTMLElement {
    const cols = t.columns ?? [];
    return h(
      "table",
      { class: "mini" },
      h("thead", null, h("tr", null, h("th", null, "Name"), cols.map((c) => h("th", { class: c.dataType === "number" ? "num" : "" }, c.label)))),
      h(
        "tbody",
        null,
        (t.nodes ?? []).map((n) =>
          h(
            "tr",
            null,
            h("td", null, this.link(t.topologyId, n.id, n.label)),
            cols.map((c) => {
              const metric = n.metrics?.find((m) => m.id === c.id);
              if (metric) return h("td", { class: "num" }, fmt.metric(metric.value, metric.format));
              const meta = n.metadata?.find((m) => m.id === c.id);
              return h("td", { class: c.dataType === "number" ? "num" : "" }, meta ? fmt.metadataValue(meta.value, meta.dataType) : "");
            }),
          ),
        ),
      ),
    );
  }

  private connections(t: ConnectionTable): HTMLElement {
    const cols = (t.columns ?? []).filter((c) => c.id !== "label");
    const rows = t.connections ?? [];
    if (rows.length === 0) return h("div", { class: "empty small" }, "None");
    return h(
      "table",
      { class: "mini" },
      h("thead", null, h("tr", null, h("th", null, t.id === "incoming-connections" ? "From" : "To"), cols.map((c) => h("th", { class: c.dataType === "number" ? "num" : "" }, c.label)))),
      h(
        "tbody",
        null,
        rows.map((r) =>
          h(
            "tr",
            null,
            h("td", null, this.link(t.topologyId, r.nodeId, r.label), r.labelMinor ? h("span", { class: "minor" }, ` ${r.labelMinor}`) : null),
            cols.map((c) => h("td", { class: c.dataType === "number" ? "num" : "" }, r.metadata?.find((m) => m.id === c.id)?.value ?? "")),
          ),
        ),
      ),
    );
  }
}
