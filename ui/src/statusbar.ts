// The status bar: connection, probes, node and edge counts, time since the last update, version.
import { fill, h } from "./dom";
import * as fmt from "./format";

export interface StatusFacts {
  connection: "live" | "connecting" | "reconnecting" | "historic" | "paused" | "offline";
  at: string | null;
  probes: number | null;
  nodes: number;
  edges: number;
  shown: number | null;
  lastUpdate: number | null;
  version: string;
  hostname: string;
  stale: boolean;
}

const LABELS: Record<StatusFacts["connection"], string> = {
  live: "Live",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  historic: "Historic",
  paused: "Paused",
  offline: "Offline",
};

export class StatusBar {
  readonly root = h("footer", { class: "statusbar" });
  facts: StatusFacts = {
    connection: "connecting",
    at: null,
    probes: null,
    nodes: 0,
    edges: 0,
    shown: null,
    lastUpdate: null,
    version: "",
    hostname: "",
    stale: false,
  };

  constructor() {
    window.setInterval(() => this.render(), 1000);
  }

  set(facts: Partial<StatusFacts>): void {
    Object.assign(this.facts, facts);
    this.render();
  }

  render(): void {
    const f = this.facts;
    const ago = f.lastUpdate === null ? "no data yet" : `updated ${fmt.duration(Date.now() - f.lastUpdate)} ago`;
    this.root.dataset.connection = f.connection;
    fill(
      this.root,
      h("span", { class: `conn ${f.connection}`, "data-state": f.connection }, h("span", { class: "dot" }), LABELS[f.connection], f.at ? ` · ${fmt.clockSeconds(new Date(f.at))}` : ""),
      f.stale ? h("span", { class: "stale-tag" }, "Stale: showing the last data received") : null,
      h("span", null, f.probes === null ? "probes …" : `${fmt.count(f.probes)} probe${f.probes === 1 ? "" : "s"}`),
      h("span", { "data-count": "nodes" }, `${fmt.count(f.nodes)} nodes`),
      h("span", { "data-count": "edges" }, `${fmt.count(f.edges)} edges`),
      f.shown !== null ? h("span", null, `${fmt.count(f.shown)} match${f.shown === 1 ? "" : "es"}`) : null,
      h("span", { class: "ago" }, f.connection === "historic" || f.connection === "paused" ? "" : ago),
      h("span", { class: "spacer" }),
      f.hostname ? h("span", { class: "muted" }, f.hostname) : null,
      h("span", { class: "muted" }, f.version ? `Stormscope ${f.version}` : "Stormscope"),
    );
  }
}
