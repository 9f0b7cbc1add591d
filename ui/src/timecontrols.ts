// Live or historic: a pause button that freezes the current moment, a picker for a past
// moment, and a button back to live. Always says which of the two is shown.
import { fill, h } from "./dom";

function localValue(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export class TimeControls {
  readonly root = h("div", { class: "time", role: "group", "aria-label": "Time" });
  onChange: (at: string | null) => void = () => {};

  render(at: string | null): void {
    const picker = h("input", {
      type: "datetime-local",
      step: "1",
      class: "picker",
      "aria-label": "Show the topology at",
      title: "Show the topology at a past moment",
      value: localValue(at ?? new Date().toISOString()),
      max: localValue(new Date().toISOString()),
    });
    picker.addEventListener("change", () => {
      const d = new Date(picker.value);
      if (!Number.isNaN(d.getTime())) this.onChange(d.getTime() >= Date.now() ? null : d.toISOString());
    });
    this.root.dataset.mode = at ? "historic" : "live";
    fill(
      this.root,
      at
        ? h("span", { class: "pill historic", title: at }, "Historic")
        : h("span", { class: "pill live" }, h("span", { class: "dot" }), "Live"),
      at ? picker : null,
      at
        ? h("button", { class: "btn primary", onclick: () => this.onChange(null), title: "Back to the live view" }, "▶ Resume live")
        : h("button", { class: "btn", onclick: () => this.onChange(new Date().toISOString()), title: "Freeze this moment" }, "❚❚ Pause"),
      at ? null : h("button", { class: "btn ghost", title: "Go back in time", onclick: () => this.onChange(new Date(Date.now() - 60_000).toISOString()) }, "↶ 1 min"),
    );
  }
}
