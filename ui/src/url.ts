// The page's state lives in its URL (query string only, so the path and any prefix stay as
// they are): a copied link opens the same picture, and back and forward move through states.
export interface UrlState {
  view: string;
  /** Option group id -> value, as the API takes them. */
  options: Record<string, string>;
  search: string;
  /** Selected node id and the view it belongs to (a link may open another view's node). */
  node: string | null;
  /** RFC 3339 moment for history; null for live. */
  at: string | null;
  /** Forced by the user; null lets the node count decide. */
  mode: "graph" | "table" | null;
}

const OWN = new Set(["view", "q", "node", "at", "mode"]);

export function parse(search: string = location.search): UrlState {
  const p = new URLSearchParams(search);
  const options: Record<string, string> = {};
  for (const [k, v] of p) if (!OWN.has(k)) options[k] = v;
  const mode = p.get("mode");
  return {
    view: p.get("view") || "hosts",
    options,
    search: p.get("q") ?? "",
    node: p.get("node"),
    at: p.get("at"),
    mode: mode === "graph" || mode === "table" ? mode : null,
  };
}

export function serialize(s: UrlState): string {
  const p = new URLSearchParams();
  p.set("view", s.view);
  for (const k of Object.keys(s.options).sort()) p.set(k, s.options[k]);
  if (s.search) p.set("q", s.search);
  if (s.node) p.set("node", s.node);
  if (s.at) p.set("at", s.at);
  if (s.mode) p.set("mode", s.mode);
  return `?${p.toString()}`;
}

/** Records `s` in the history: a new entry for a move a person would go back from. */
export function write(s: UrlState, how: "push" | "replace"): void {
  const query = serialize(s);
  if (query === location.search) return;
  const url = `${location.pathname}${query}`;
  if (how === "push") history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}
