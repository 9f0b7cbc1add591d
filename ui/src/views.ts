// The view menu (views and sub-views with node counts, from /api/topology) and the current
// view's option groups as toggles.
import { fill, h } from "./dom";
import * as fmt from "./format";
import { type OptionGroup, type TopologyDesc, viewId } from "./types";

export class ViewMenu {
  readonly root = h("nav", { class: "views", "aria-label": "Views" });
  readonly options = h("div", { class: "options", "aria-label": "View options" });
  onView: (view: string) => void = () => {};
  onOption: (group: string, value: string) => void = () => {};
  descs: TopologyDesc[] = [];

  /** Every view by id, sub-views included. */
  all(): Map<string, { desc: TopologyDesc; parent: TopologyDesc | null }> {
    const out = new Map<string, { desc: TopologyDesc; parent: TopologyDesc | null }>();
    for (const d of this.descs) {
      out.set(viewId(d), { desc: d, parent: null });
      for (const s of d.sub_topologies ?? []) out.set(viewId(s), { desc: s, parent: d });
    }
    return out;
  }

  groups(view: string): OptionGroup[] {
    return this.all().get(view)?.desc.options ?? [];
  }

  render(view: string, values: Record<string, string>): void {
    const top = [...this.descs].sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name));
    const current = this.all().get(view);
    const activeTop = current?.parent ?? current?.desc;
    fill(
      this.root,
      top
        .filter((d) => !(d.hide_if_empty && (d.stats?.node_count ?? 0) === 0) || d === activeTop)
        .map((d) => {
          const subs = d.sub_topologies ?? [];
          const active = d === activeTop;
          return h(
            "div",
            { class: `view-group${active ? " active" : ""}` },
            this.button(d, viewId(d) === view, "view"),
            active && subs.length ? h("div", { class: "subviews" }, subs.map((s) => this.button(s, viewId(s) === view, "subview"))) : null,
          );
        }),
    );
    fill(
      this.options,
      (current?.desc.options ?? []).map((g) => {
        const value = values[g.id] ?? g.defaultValue;
        const chosen = new Set(value.split(",").filter(Boolean));
        return h(
          "div",
          { class: "option-group", role: "group", "aria-label": g.id, "data-group": g.id },
          g.options.map((o) => {
            const on = g.selectType === "union" ? chosen.has(o.value) : value === o.value;
            return h(
              "button",
              {
                class: `toggle${on ? " on" : ""}`,
                "aria-pressed": on ? "true" : "false",
                "data-value": o.value,
                onclick: () => {
                  if (g.selectType === "union") {
                    if (on) chosen.delete(o.value);
                    else chosen.add(o.value);
                    this.onOption(g.id, [...chosen].sort().join(","));
                  } else this.onOption(g.id, o.value);
                },
              },
              o.label,
            );
          }),
          g.selectType === "union" && chosen.size === 0 && g.noneLabel ? h("span", { class: "toggle none" }, g.noneLabel) : null,
        );
      }),
    );
  }

  private button(d: TopologyDesc, active: boolean, kind: string): HTMLElement {
    const id = viewId(d);
    const count = d.stats?.nonpseudo_node_count ?? d.stats?.node_count;
    return h(
      "a",
      {
        class: `${kind}${active ? " active" : ""}`,
        href: `?view=${encodeURIComponent(id)}`,
        "data-view": id,
        "aria-current": active ? "page" : null,
        onclick: (e: Event) => {
          const m = e as MouseEvent;
          if (m.ctrlKey || m.metaKey || m.shiftKey || m.button !== 0) return;
          e.preventDefault();
          this.onView(id);
        },
      },
      d.name,
      count !== undefined ? h("span", { class: "count" }, fmt.count(count)) : null,
    );
  }
}
