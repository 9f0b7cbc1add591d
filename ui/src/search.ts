// Search: words are ANDed; each is a label substring, `key:value` on metadata, or
// `metric>value` / `metric<value` (e.g. `cpu>50`, `memory>1G`).
import type { NodeSummary } from "./types";

type Term =
  | { kind: "text"; text: string }
  | { kind: "meta"; key: string; value: string }
  | { kind: "metric"; key: string; op: ">" | "<"; value: number };

export type Matcher = (node: NodeSummary) => boolean;

const SUFFIX: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };

function number(text: string): number {
  const m = /^(-?\d+(?:\.\d+)?)\s*([a-z]*)%?$/i.exec(text.trim());
  if (!m) return NaN;
  const scale = m[2] ? SUFFIX[m[2].toLowerCase()] : 1;
  return scale === undefined ? NaN : Number(m[1]) * scale;
}

export function parseQuery(query: string): Term[] {
  const terms: Term[] = [];
  for (const word of query.trim().split(/\s+/).filter(Boolean)) {
    const metric = /^([\w.-]+)\s*([<>])\s*(.+)$/.exec(word);
    if (metric && !Number.isNaN(number(metric[3]))) {
      terms.push({ kind: "metric", key: metric[1].toLowerCase(), op: metric[2] as ">" | "<", value: number(metric[3]) });
      continue;
    }
    const colon = word.indexOf(":");
    if (colon > 0 && colon < word.length - 1) {
      terms.push({ kind: "meta", key: word.slice(0, colon).toLowerCase(), value: word.slice(colon + 1).toLowerCase() });
      continue;
    }
    terms.push({ kind: "text", text: word.toLowerCase() });
  }
  return terms;
}

/** A key names a field by its id or label, or a part of either ("cpu" names "CPU"). */
function names(key: string, id: string, label: string): boolean {
  const i = id.toLowerCase();
  const l = label.toLowerCase();
  return i === key || l === key || i.includes(key) || l.includes(key);
}

function matches(term: Term, node: NodeSummary): boolean {
  switch (term.kind) {
    case "text":
      return (
        node.label.toLowerCase().includes(term.text) ||
        node.labelMinor.toLowerCase().includes(term.text) ||
        node.id.toLowerCase().includes(term.text)
      );
    case "meta":
      return (node.metadata ?? []).some(
        (m) => names(term.key, m.id, m.label) && m.value.toLowerCase().includes(term.value),
      ) || (node.parents ?? []).some((p) => names(term.key, p.topologyId, p.topologyId) && p.label.toLowerCase().includes(term.value));
    case "metric":
      return (node.metrics ?? []).some(
        (m) => names(term.key, m.id, m.label) && (term.op === ">" ? m.value > term.value : m.value < term.value),
      );
  }
}

/** A matcher for `query`, or null when the query is empty (everything matches). */
export function matcher(query: string): Matcher | null {
  const terms = parseQuery(query);
  if (terms.length === 0) return null;
  return (node) => terms.every((t) => matches(t, node));
}
