// The degraded banner. Each stream of answers (the view, its websocket, /api/status) reports
// its latest degraded state on a channel; the banner shows what any channel says is failing,
// and leaves when every channel's latest answer is clean.
import { fill, h } from "./dom";
import * as fmt from "./format";
import type { Degraded, IngestHealth } from "./types";

const SOURCE_NAMES: Record<string, string> = {
  cache: "The cache (memcached)",
  "object-store": "The object store",
  spool: "The collector's spool",
};

export class Banner {
  readonly root = h("div", { class: "banner", role: "status", "aria-live": "polite", hidden: true });
  private channels = new Map<string, Degraded>();

  set(channel: string, degraded: Degraded | null): void {
    if (degraded && isDegraded(degraded)) this.channels.set(channel, degraded);
    else this.channels.delete(channel);
    this.render();
  }

  /** Forgets a channel whose answers no longer come (e.g. the view changed). */
  clear(channel: string): void {
    this.channels.delete(channel);
    this.render();
  }

  text(): string {
    return this.root.hidden ? "" : (this.root.textContent ?? "");
  }

  sources(): string[] {
    const all = new Set<string>();
    for (const d of this.channels.values()) {
      for (const s of d.sources ?? []) all.add(s);
      if (failing(d.ingest).length) all.add("ingest");
    }
    return [...all].sort();
  }

  private render(): void {
    const lines = this.lines();
    this.root.hidden = lines.length === 0;
    this.root.dataset.sources = this.sources().join(",");
    fill(
      this.root,
      h("span", { class: "banner-icon", "aria-hidden": "true" }, "⚠"),
      h("div", { class: "banner-lines" }, lines.map((l) => h("div", null, l))),
    );
  }

  private lines(): string[] {
    const sources = new Map<string, string | undefined>();
    let missing = 0;
    let missingUnknown = false;
    const ingest = new Map<string, IngestHealth>();
    for (const d of this.channels.values()) {
      for (const s of d.sources ?? []) if (!sources.has(s) || d.since?.[s]) sources.set(s, d.since?.[s] ?? sources.get(s));
      if ((d.missing_reports ?? 0) > missing) missing = d.missing_reports ?? 0;
      if (d.missing_reports === -1) missingUnknown = true;
      for (const i of failing(d.ingest)) ingest.set(i.collector, i);
    }
    const out: string[] = [];
    const missingText = missing > 0 ? `${fmt.count(missing)} report${missing === 1 ? "" : "s"} missing from this view` : missingUnknown ? "some reports are missing from this view" : "";
    for (const [source, since] of sources) {
      const name = SOURCE_NAMES[source] ?? `The ${source}`;
      const when = since ? ` since ${fmt.clock(since)}` : "";
      const consequence = missingText || (source === "cache" ? "the view is read from the object store, up to one flush behind" : "the view may be incomplete");
      out.push(`${name} is unreachable${when}; ${consequence}.`);
    }
    if (sources.size === 0 && missingText) out.push(`${missingText[0].toUpperCase()}${missingText.slice(1)}.`);
    if ([...this.channels.values()].some((d) => d.partial_window)) {
      out.push("Still merging this window: the view shows its newest reports and fills in within seconds.");
    }
    out.push(...ingestLines([...ingest.values()]));
    return out;
  }
}

function failing(ingest: IngestHealth[] | undefined): IngestHealth[] {
  return (ingest ?? []).filter((i) => i.sources && i.sources.length > 0);
}

function isDegraded(d: Degraded): boolean {
  return (d.sources?.length ?? 0) > 0 || (d.missing_reports ?? 0) !== 0 || failing(d.ingest).length > 0 || d.partial_window === true;
}

/** The collectors' own trouble, summed over collectors per failing source. */
function ingestLines(ingest: IngestHealth[]): string[] {
  const out: string[] = [];
  const by = (source: string) => ingest.filter((i) => i.sources.includes(source));
  const earliest = (list: IngestHealth[]) => list.map((i) => i.since).filter(Boolean).sort()[0];
  const store = by("object-store");
  if (store.length) {
    const waiting = store.reduce((n, i) => n + (i.backlog_records ?? 0), 0);
    const since = earliest(store);
    out.push(
      `Reports are not reaching the object store${since ? ` since ${fmt.clock(since)}` : ""}; ${fmt.count(waiting)} report${waiting === 1 ? "" : "s"} waiting. The live view is complete.`,
    );
  }
  const cache = by("cache");
  if (cache.length) {
    const since = earliest(cache);
    out.push(`Collectors cannot reach the cache${since ? ` since ${fmt.clock(since)}` : ""}; the live view lags up to one flush behind.`);
  }
  const spool = by("spool");
  if (spool.length) {
    const since = earliest(spool);
    out.push(`A collector's spool is full${since ? ` since ${fmt.clock(since)}` : ""}; new reports are being refused.`);
  }
  return out;
}
