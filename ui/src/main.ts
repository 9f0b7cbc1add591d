// Stormscope's UI: wires the modules together. The URL is the source of truth for what is
// shown; everything else (nodes, feed, panel) follows from it.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { getJson, listenDegraded } from "./api";
import { Banner } from "./banner";
import { DetailsPanel } from "./details";
import { h } from "./dom";
import * as events from "./events";
import * as fmt from "./format";
import { GraphView } from "./graph";
import { type FeedState, LiveFeed } from "./live";
import { matcher as makeMatcher, type Matcher } from "./search";
import { StatusBar } from "./statusbar";
import { Store } from "./store";
import { TableView } from "./table";
import * as theme from "./theme";
import { TimeControls } from "./timecontrols";
import type { TopologyDesc } from "./types";
import * as url from "./url";
import { ViewMenu } from "./views";

const TABLE_ABOVE_KEY = "stormscope.tableAbove";
const DEFAULT_TABLE_ABOVE = 8000;
const STATUS_EVERY_MS = 4000;
const PROBES_EVERY_MS = 10_000;
const TOPOLOGIES_EVERY_MS = 10_000;
const DETAILS_EVERY_MS = 5000;
const SLOW_RENDER_MS = 1000;

events.watchPage();

let state = url.parse();
const store = new Store();
const banner = new Banner();
const menu = new ViewMenu();
const details = new DetailsPanel();
const status = new StatusBar();
const feed = new LiveFeed();
const table = new TableView();
const time = new TimeControls();
let matcher: Matcher | null = makeMatcher(state.search);
let loaded = { view: "", query: "", at: null as string | null };
let statusAvailable = true;
let lastApplyMs: number | null = null;
let firstDrawMs: number | null = null;
let pendingFocus: string | null = null;
let updates = 0;
let lastChange = 0;

const search = h("input", {
  class: "search",
  type: "search",
  placeholder: "Search: nginx, pid:42, cpu>50",
  "aria-label": "Search nodes",
  value: state.search,
  spellcheck: false,
});
const modeButtons = {
  graph: h("button", { class: "seg", "data-mode": "graph", onclick: () => setMode("graph") }, "Graph"),
  table: h("button", { class: "seg", "data-mode": "table", onclick: () => setMode("table") }, "Table"),
};
const graphBox = h("div", { class: "graph" });
const notice = h("div", { class: "notice", hidden: true });
const empty = h("div", { class: "empty-state", hidden: true });
const zoom = h(
  "div",
  { class: "zoom" },
  h("button", { class: "icon", title: "Zoom in", "aria-label": "Zoom in", onclick: () => graph.zoom(1.5) }, "+"),
  h("button", { class: "icon", title: "Zoom out", "aria-label": "Zoom out", onclick: () => graph.zoom(1 / 1.5) }, "−"),
  h("button", { class: "icon", title: "Fit to screen", "aria-label": "Fit to screen", onclick: () => graph.resetCamera() }, "⤢"),
);
const stage = h("main", { class: "stage" }, graphBox, table.root, zoom, empty, notice, details.root);

document.body.append(
  h(
    "header",
    { class: "topbar" },
    h("a", { class: "brand", href: "?", title: "Stormscope" }, h("span", { class: "logo", "aria-hidden": "true" }), "Stormscope"),
    menu.root,
    h("div", { class: "spacer" }),
    search,
    h("div", { class: "segmented", role: "group", "aria-label": "Display" }, modeButtons.graph, modeButtons.table),
    time.root,
  ),
  h("div", { class: "subbar" }, menu.options, h("div", { class: "spacer" }), h("span", { class: "hint" }, "/ search · Esc close · ↑↓ rows")),
  banner.root,
  stage,
  status.root,
);

const graph = new GraphView(graphBox);

listenDegraded((channel, degraded) => banner.set(channel, degraded));

// ---- what the URL says --------------------------------------------------------------------

function viewQuery(): string {
  const p = new URLSearchParams();
  for (const g of menu.groups(state.view)) p.set(g.id, state.options[g.id] ?? g.defaultValue);
  return p.toString();
}

function withTimestamp(query: string): string {
  if (!state.at) return query;
  return query ? `${query}&timestamp=${encodeURIComponent(state.at)}` : `timestamp=${encodeURIComponent(state.at)}`;
}

function commit(how: "push" | "replace"): void {
  url.write(state, how);
  document.title = `${menu.all().get(state.view)?.desc.name ?? state.view} · Stormscope`;
}

/** Brings the page in line with `state`: reloads the view when view, options or moment changed. */
function sync(): void {
  const query = viewQuery();
  if (loaded.view !== state.view || loaded.query !== query || loaded.at !== state.at) {
    loaded = { view: state.view, query, at: state.at };
    loadView();
  }
  menu.render(state.view, state.options);
  time.render(state.at);
  if (search.value !== state.search) search.value = state.search;
  applySearch();
  syncSelection();
  updateMode();
}

function loadView(): void {
  feed.close();
  graph.apply(store.clear(), store.nodes);
  table.update(store.nodes, matcher);
  banner.clear("view");
  status.set({ nodes: 0, edges: 0, lastUpdate: null, stale: false });
  lastApplyMs = null;
  const view = encodeURIComponent(state.view);
  if (state.at) {
    status.set({ connection: "historic", at: state.at });
    const path = `api/topology/${view}?${withTimestamp(viewQuery())}`;
    getJson<{ nodes: Record<string, never> }>(path, "view")
      .then((answer) => {
        if (!state.at) return;
        graph.apply(store.clear(), store.nodes);
        applyChange(() => store.replace(answer.nodes ?? {}));
      })
      .catch((e) => showNotice(`Could not load this moment: ${(e as Error).message}`));
  } else {
    status.set({ connection: "connecting", at: null });
    const query = viewQuery();
    feed.open(`api/topology/${view}/ws?t=1s${query ? `&${query}` : ""}`);
  }
  refreshTopologies();
}

// ---- nodes -----------------------------------------------------------------------------

function applyChange(change: () => ReturnType<Store["apply"]>): void {
  const started = performance.now();
  const c = change();
  graph.apply(c, store.nodes);
  table.update(store.nodes, matcher);
  updates++;
  lastChange = c.added.length + c.updated.length + c.removed.length;
  status.set({ nodes: store.nodes.size, edges: store.edgeCount(), lastUpdate: Date.now(), shown: matcher ? countMatches() : null });
  updateMode();
  if (state.node && !store.nodes.has(state.node) && details.isOpen()) details.show(state.view, state.node, withTimestamp(viewQuery()));
  if (pendingFocus && store.nodes.has(pendingFocus)) {
    const id = pendingFocus;
    pendingFocus = null;
    requestAnimationFrame(() => graph.focus(id));
  }
  // The time to apply is measured to the next frame, after sigma drew the change.
  requestAnimationFrame(() => {
    lastApplyMs = performance.now() - started;
    if (lastApplyMs > SLOW_RENDER_MS) events.report("slow-render", `${state.view}: ${c.added.length + c.updated.length + c.removed.length} changes`, lastApplyMs);
  });
}

function countMatches(): number {
  let n = 0;
  if (matcher) for (const node of store.nodes.values()) if (matcher(node)) n++;
  return n;
}

feed.onDiff = (diff) => {
  banner.set("view", diff.degraded ?? null);
  applyChange(() => store.apply(diff));
};

feed.onState = (s: FeedState) => {
  if (state.at) return;
  const stale = s === "reconnecting";
  document.body.classList.toggle("stale", stale);
  status.set({ connection: s === "closed" ? "offline" : s, stale });
};

graph.onRender = () => {
  if (firstDrawMs === null && graph.graph.order > 0) firstDrawMs = performance.now();
};

// ---- modes: graph or table ----------------------------------------------------------------

function tableAbove(): number {
  const v = Number(localStorage.getItem(TABLE_ABOVE_KEY));
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_TABLE_ABOVE;
}

function currentMode(): "graph" | "table" {
  if (graph.error) return "table";
  if (state.mode) return state.mode;
  return store.nodes.size > tableAbove() ? "table" : "graph";
}

function updateMode(): void {
  const mode = currentMode();
  document.body.dataset.mode = mode;
  graph.show(mode === "graph");
  table.root.hidden = mode !== "table";
  zoom.hidden = mode !== "graph";
  modeButtons.graph.classList.toggle("on", mode === "graph");
  modeButtons.table.classList.toggle("on", mode === "table");
  if (graph.error) {
    showNotice(`${graph.error} Showing the table instead.`);
  } else if (mode === "table" && !state.mode) {
    showNotice(
      `Showing a table: this view has ${fmt.count(store.nodes.size)} nodes, more than the graph limit of ${fmt.count(tableAbove())}.`,
      h("button", { class: "link", onclick: () => setMode("graph") }, "Draw the graph anyway"),
      h("button", { class: "link", onclick: changeLimit }, "Change the limit"),
    );
  } else {
    showNotice(null);
  }
  const nothing = store.nodes.size === 0 && loaded.view !== "" && status.facts.lastUpdate !== null;
  empty.hidden = !nothing;
  if (nothing) {
    empty.replaceChildren(
      h("div", { class: "empty-title" }, "Nothing to show"),
      h("div", null, state.at ? "No reports at this moment." : "No nodes in this view yet. Probes report every few seconds; some options hide nodes."),
    );
  }
}

function showNotice(text: string | null, ...actions: HTMLElement[]): void {
  notice.hidden = text === null;
  if (text !== null) notice.replaceChildren(h("span", null, text), ...actions);
}

function changeLimit(): void {
  const answer = prompt("Open views in table mode above how many nodes?", String(tableAbove()));
  const n = Number(answer);
  if (answer !== null && Number.isFinite(n) && n > 0) {
    localStorage.setItem(TABLE_ABOVE_KEY, String(Math.round(n)));
    updateMode();
  }
}

function setMode(mode: "graph" | "table"): void {
  state.mode = mode;
  commit("push");
  updateMode();
}

// ---- search and selection -----------------------------------------------------------------

let searchTimer: number | undefined;
search.addEventListener("input", () => {
  window.clearTimeout(searchTimer);
  searchTimer = window.setTimeout(() => {
    state.search = search.value.trim();
    commit("replace");
    applySearch();
  }, 150);
});

function applySearch(): void {
  matcher = makeMatcher(state.search);
  graph.setMatcher(matcher, store.nodes);
  table.update(store.nodes, matcher);
  status.set({ shown: matcher ? countMatches() : null });
}

function select(id: string | null, how: "push" | "replace" = "push"): void {
  if (state.node === id) return;
  state.node = id;
  commit(how);
  syncSelection();
}

function syncSelection(): void {
  graph.select(state.node);
  table.select(state.node);
  if (state.node) {
    const label = store.nodes.get(state.node)?.label;
    details.show(state.view, state.node, withTimestamp(viewQuery()), label);
  } else details.close();
  document.body.classList.toggle("with-details", !!state.node);
}

graph.onSelect = (id) => select(id);
table.onSelect = (id) => select(id);
details.onClose = () => select(null);
details.onNavigate = (view, id) => {
  if (view === state.view) {
    select(id);
    graph.focus(id);
    return;
  }
  state = { ...state, view, node: id, options: {}, search: "" };
  pendingFocus = id;
  commit("push");
  sync();
};
menu.onView = (view) => {
  if (view === state.view) return;
  state = { ...state, view, node: null, options: {} };
  commit("push");
  sync();
};
menu.onOption = (group, value) => {
  state = { ...state, options: { ...state.options, [group]: value } };
  commit("push");
  sync();
};
time.onChange = (at) => {
  state = { ...state, at };
  commit("push");
  sync();
};

window.addEventListener("popstate", () => {
  state = url.parse();
  sync();
});

document.addEventListener("keydown", (e) => {
  const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
  if (e.key === "/" && !typing) {
    e.preventDefault();
    search.focus();
    search.select();
  } else if (e.key === "Escape") {
    if (typing) (e.target as HTMLElement).blur();
    else if (state.node) select(null);
  } else if ((e.key === "ArrowDown" || e.key === "ArrowUp") && !typing && currentMode() === "table") {
    e.preventDefault();
    const id = table.move(e.key === "ArrowDown" ? 1 : -1);
    if (id) select(id, "replace");
  }
});

theme.onChange(() => graph.retheme());

// ---- polling: views, status, probes, details ------------------------------------------------

async function refreshTopologies(): Promise<void> {
  try {
    const q = viewQuery();
    menu.descs = await getJson<TopologyDesc[]>(`api/topology${q ? `?${q}` : ""}`, null);
    const known = menu.all();
    details.viewNames = new Map([...known].map(([id, v]) => [id, v.parent ? `${v.parent.name} ${v.desc.name}` : v.desc.name]));
    menu.render(state.view, state.options);
    if (loaded.query !== viewQuery()) sync(); // the view's option groups arrived
    document.title = `${known.get(state.view)?.desc.name ?? state.view} · Stormscope`;
  } catch {
    // reported by the client; the menu keeps what it had
  }
}

async function pollStatus(): Promise<void> {
  if (!statusAvailable) return;
  try {
    const s = await getJson<import("./types").Status>("api/status", null);
    const failing = Object.entries(s.sources ?? {}).filter(([, v]) => v !== "ok").map(([k]) => k);
    const degraded = s.degraded ?? (failing.length ? { sources: failing } : null);
    banner.set("status", degraded ? { ...degraded, ingest: s.ingest ?? degraded.ingest } : { ingest: s.ingest });
  } catch (e) {
    // An app without /api/status (older) answers 404: stop asking; other failures are transient.
    if ((e as { status?: number }).status === 404) statusAvailable = false;
  }
}

async function pollProbes(): Promise<void> {
  try {
    const probes = await getJson<unknown[]>("api/probes", "probes");
    status.set({ probes: probes.length });
  } catch {
    status.set({ probes: null });
  }
}

async function start(): Promise<void> {
  try {
    const about = await getJson<{ version: string; hostname: string }>("api", null);
    status.set({ version: about.version, hostname: about.hostname });
  } catch (e) {
    events.report("page-load-error", `api: ${(e as Error).message}`);
    showNotice("The Stormscope API does not answer. Retrying…");
  }
  await refreshTopologies();
  if (!menu.all().has(state.view) && menu.descs.length) state.view = "hosts";
  commit("replace");
  pendingFocus = state.node;
  sync();
  pollStatus();
  pollProbes();
  window.setInterval(pollStatus, STATUS_EVERY_MS);
  window.setInterval(pollProbes, PROBES_EVERY_MS);
  window.setInterval(refreshTopologies, TOPOLOGIES_EVERY_MS);
  window.setInterval(() => {
    if (state.node && !state.at && details.isOpen()) details.show(state.view, state.node, viewQuery());
  }, DETAILS_EVERY_MS);
}

// A read-only window for tests and benchmarks: what the renderer holds, not what it was sent.
Object.defineProperty(window, "__stormscope", {
  value: Object.freeze({
    state: () => ({ ...state }),
    apiQuery: () => viewQuery(),
    counts: () => ({ ...graph.counts(), storeNodes: store.nodes.size, storeEdges: store.edgeCount(), tableRows: table.rowCount() }),
    mode: () => currentMode(),
    connection: () => status.facts.connection,
    banner: () => ({ text: banner.text(), sources: banner.sources() }),
    timings: () => ({ firstDrawMs, lastApplyMs, updates, lastChange }),
    layoutRunning: () => graph.layoutRunning(),
    eventsSent: () => events.sentCount(),
    drops: () => feed.drops,
    details: () => ({ open: details.isOpen(), error: details.lastError }),
    sigma: () => graph.sigmaInstance(),
    nodePosition: (id: string) => (graph.graph.hasNode(id) ? { x: graph.graph.getNodeAttribute(id, "x"), y: graph.graph.getNodeAttribute(id, "y") } : null),
  }),
});

start();
