// The graph: graphology holds nodes and edges, sigma draws them with WebGL. Positions stay put
// across updates; new nodes are placed near their neighbours and settled by the layout worker.
import Graph from "graphology";
import Sigma from "sigma";
import { EdgeArrowProgram } from "sigma/rendering";
import type { NodeDisplayData, PartialButFor } from "sigma/types";
import type { Settings } from "sigma/settings";
import { Layout } from "./layout";
import { NodeShapeProgram, SHAPES, styleBits } from "./shapes";
import type { Change } from "./store";
import { current as currentTheme, nodeColour, type Theme } from "./theme";
import type { Matcher } from "./search";
import type { NodeSummary } from "./types";

/** From this many nodes on, edges are hidden while the camera moves. */
const LARGE = 2000;

type LabelData = PartialButFor<NodeDisplayData, "x" | "y" | "size" | "label" | "color"> & { minor?: string };

export class GraphView {
  readonly graph = new Graph({ type: "directed", multi: false, allowSelfLoops: true });
  private sigma: Sigma | null = null;
  private layout: Layout;
  private theme: Theme = currentTheme();
  private matcher: Matcher | null = null;
  private matches = new Set<string>();
  private selected: string | null = null;
  private hovered: string | null = null;
  private neighbours = new Set<string>();
  /** Adjacency entries whose target is not (yet) a node: target -> sources. */
  private dangling = new Map<string, Set<string>>();
  private laidOut = false;
  readonly error: string | null = null;
  onSelect: (id: string | null) => void = () => {};
  onRender: () => void = () => {};

  constructor(private container: HTMLElement) {
    this.layout = new Layout(this.graph);
    this.layout.onTick = (done) => {
      if (!done || !this.sigma) return;
      // After a layout the frame stays put, so that live updates do not rescale the picture;
      // it grows only when a settled node landed outside it.
      const s = this.sigma;
      if (!this.laidOut || this.outsideFrame()) {
        s.setCustomBBox(null);
        s.refresh();
        s.setCustomBBox(padded(s.getBBox(), this.graph.order));
      }
      this.laidOut = true;
    };
    try {
      this.sigma = new Sigma(this.graph, container, this.settings());
    } catch (e) {
      this.error = `This browser cannot draw the graph (WebGL: ${(e as Error).message}).`;
      return;
    }
    const s = this.sigma;
    s.on("clickNode", ({ node }) => this.onSelect(node));
    // WebGL picking misses on some software renderers; a click on the stage is then checked
    // against the nodes' drawn positions before it counts as a click on nothing.
    s.on("clickStage", ({ event }) => this.onSelect(this.nodeAt(event.x, event.y)));
    s.on("enterNode", ({ node }) => this.hover(node));
    s.on("leaveNode", () => this.hover(null));
    // The same fallback for hovering, once per frame at most.
    let pointer: { x: number; y: number } | null = null;
    s.on("moveBody", ({ event }) => {
      if (pointer === null) requestAnimationFrame(() => {
        if (pointer) this.hover(this.nodeAt(pointer.x, pointer.y));
        pointer = null;
      });
      pointer = { x: event.x, y: event.y };
    });
    s.on("afterRender", () => this.onRender());
    // Sigma follows window resizes only; a banner appearing above the graph or the details
    // panel changes the container alone, and the canvas must follow it and draw again.
    new ResizeObserver(() => {
      s.resize();
      s.refresh();
    }).observe(container);
  }

  private settings(): Partial<Settings> {
    const t = this.theme;
    return {
      allowInvalidContainer: true,
      defaultNodeType: "shape",
      nodeProgramClasses: { shape: NodeShapeProgram },
      defaultEdgeType: "arrow",
      edgeProgramClasses: { arrow: EdgeArrowProgram },
      defaultEdgeColor: t.edge,
      labelColor: { color: t.text },
      labelFont: "Inter, system-ui, -apple-system, 'Segoe UI', sans-serif",
      labelSize: 12,
      labelWeight: "500",
      labelDensity: 0.45,
      labelGridCellSize: 150,
      labelRenderedSizeThreshold: 5,
      zIndex: true,
      minCameraRatio: 0.03,
      maxCameraRatio: 8,
      stagePadding: 40,
      defaultDrawNodeLabel: (ctx, data, settings) => drawLabel(ctx, data as LabelData, settings, this.theme, false),
      defaultDrawNodeHover: (ctx, data, settings) => drawLabel(ctx, data as LabelData, settings, this.theme, true),
      nodeReducer: (id, attrs) => this.reduceNode(id, attrs),
      edgeReducer: (id, attrs) => this.reduceEdge(id, attrs),
    };
  }

  private reduceNode(id: string, a: Record<string, unknown>): Partial<NodeDisplayData> {
    const out = { ...a } as Partial<NodeDisplayData> & Record<string, unknown>;
    const focus = this.hovered !== null ? id === this.hovered || this.neighbours.has(id) : true;
    const match = this.matcher === null || this.matches.has(id);
    if (!match || !focus) {
      out.color = this.theme.dim;
      out.label = null;
      out.zIndex = 0;
    } else {
      out.zIndex = 1;
      if (this.matcher !== null || this.hovered !== null) out.forceLabel = true;
    }
    if (id === this.selected) {
      out.highlighted = true;
      out.forceLabel = true;
      out.zIndex = 2;
    }
    return out;
  }

  private reduceEdge(id: string, a: Record<string, unknown>): Record<string, unknown> {
    const g = this.graph;
    const s = g.source(id);
    const t = g.target(id);
    if (this.hovered !== null && s !== this.hovered && t !== this.hovered) return { ...a, color: this.theme.edgeDim };
    if (this.matcher !== null && !(this.matches.has(s) && this.matches.has(t))) return { ...a, color: this.theme.edgeDim };
    if (this.selected !== null && (s === this.selected || t === this.selected)) return { ...a, color: this.theme.accent, size: 2, zIndex: 1 };
    return a;
  }

  private sizeFor(n: number): number {
    return Math.max(2.5, Math.min(13, 42 / Math.pow(Math.max(n, 1), 0.3)));
  }

  private attrs(n: NodeSummary, size: number): Record<string, unknown> {
    const rank = n.rank || n.label;
    return {
      label: n.label || n.id,
      minor: n.labelMinor,
      size: n.pseudo ? size * 0.85 : size,
      color: n.pseudo ? this.theme.pseudo : nodeColour(rank, this.theme.dark),
      shapeCode: SHAPES[n.shape ?? "circle"] ?? 0,
      styleBits: styleBits(n.stack, n.pseudo),
      colourKey: rank,
    };
  }

  private hover(node: string | null): void {
    if (node === this.hovered) return;
    this.hovered = node;
    this.neighbours = node === null ? new Set() : new Set(this.graph.neighbors(node));
    this.container.style.cursor = node === null ? "" : "pointer";
    this.sigma?.refresh({ skipIndexation: true });
  }

  /** The node drawn under viewport point (x, y), if any: the nearest within its radius. */
  nodeAt(x: number, y: number): string | null {
    const s = this.sigma;
    if (!s) return null;
    let best: string | null = null;
    let bestDistance = Infinity;
    this.graph.forEachNode((id) => {
      const data = s.getNodeDisplayData(id);
      if (!data || data.hidden) return;
      const p = s.graphToViewport(data);
      const radius = s.scaleSize(data.size) + 3;
      const d = Math.hypot(p.x - x, p.y - y);
      if (d <= radius && d < bestDistance) {
        best = id;
        bestDistance = d;
      }
    });
    return best;
  }

  private outsideFrame(): boolean {
    const box = this.sigma?.getCustomBBox();
    if (!box) return false;
    let outside = false;
    this.graph.forEachNode((_, a) => {
      if (a.x < box.x[0] || a.x > box.x[1] || a.y < box.y[0] || a.y > box.y[1]) outside = true;
    });
    return outside;
  }

  /** Applies a change of the store; `nodes` is the store's map after it. */
  apply(change: Change, nodes: Map<string, NodeSummary>): void {
    const g = this.graph;
    // The websocket sends a diff every second, mostly empty: an empty one must not redraw.
    // On a software WebGL renderer a redraw of thousands of edges takes hundreds of
    // milliseconds; one a second kept the GPU process saturated and the page unresponsive.
    if (!change.reset && change.added.length === 0 && change.updated.length === 0 && change.removed.length === 0) return;
    if (change.reset) {
      this.layout.stop();
      g.clear();
      this.dangling.clear();
      this.laidOut = false;
      this.sigma?.setCustomBBox(null);
    }
    for (const id of change.removed) {
      if (g.hasNode(id)) g.dropNode(id);
    }
    const size = this.sizeFor(nodes.size);
    const fresh = new Set<string>();
    for (const n of change.added) {
      if (g.hasNode(n.id)) g.mergeNodeAttributes(n.id, this.attrs(n, size));
      else {
        g.addNode(n.id, { ...this.attrs(n, size), x: 0, y: 0, placed: false });
        fresh.add(n.id);
      }
    }
    for (const n of change.updated) {
      if (g.hasNode(n.id)) g.mergeNodeAttributes(n.id, this.attrs(n, size));
    }
    for (const n of [...change.added, ...change.updated]) this.linkOut(n);
    for (const id of fresh) {
      const waiting = this.dangling.get(id);
      if (!waiting) continue;
      this.dangling.delete(id);
      for (const source of waiting) if (g.hasNode(source) && !g.hasEdge(source, id)) g.addEdge(source, id);
    }
    // Only new nodes need the layout: changed metrics or labels leave every position as it is.
    if (fresh.size > 0) {
      this.layout.place([...fresh]);
      // Until the first layout finished, everything is still moving: lay it all out again.
      if (!this.laidOut) this.layout.start("full", fresh);
      else this.layout.start("settle", fresh);
    }
    // Large graphs: edges are not drawn while the camera moves, so panning stays smooth.
    this.sigma?.setSetting("hideEdgesOnMove", g.order > LARGE);
    if (this.matcher !== null) this.refreshMatches(nodes);
  }

  /** Makes `n`'s outgoing edges those of its adjacency. */
  private linkOut(n: NodeSummary): void {
    const g = this.graph;
    const want = new Set(n.adjacency ?? []);
    for (const target of g.outNeighbors(n.id)) {
      if (!want.has(target)) g.dropEdge(n.id, target);
    }
    for (const target of want) {
      if (g.hasNode(target)) {
        if (!g.hasEdge(n.id, target)) g.addEdge(n.id, target);
      } else {
        let set = this.dangling.get(target);
        if (!set) this.dangling.set(target, (set = new Set()));
        set.add(n.id);
      }
    }
  }

  setMatcher(matcher: Matcher | null, nodes: Map<string, NodeSummary>): void {
    this.matcher = matcher;
    this.refreshMatches(nodes);
  }

  private refreshMatches(nodes: Map<string, NodeSummary>): void {
    // Graph changes redraw by themselves (sigma listens to the graph); only a search needs this.
    this.matches.clear();
    if (this.matcher) for (const n of nodes.values()) if (this.matcher(n)) this.matches.add(n.id);
    this.sigma?.refresh({ skipIndexation: true });
  }

  matchCount(): number {
    return this.matches.size;
  }

  select(id: string | null): void {
    this.selected = id;
    this.sigma?.refresh({ skipIndexation: true });
  }

  /** Moves the camera to a node (after a link or a search). */
  focus(id: string): void {
    const s = this.sigma;
    if (!s || !this.graph.hasNode(id)) return;
    const pos = s.getNodeDisplayData(id);
    if (pos) s.getCamera().animate({ x: pos.x, y: pos.y, ratio: Math.min(s.getCamera().ratio, 0.6) }, { duration: 400 });
  }

  resetCamera(): void {
    this.sigma?.getCamera().animatedReset({ duration: 300 });
  }

  zoom(factor: number): void {
    const camera = this.sigma?.getCamera();
    if (camera) camera.animate({ ratio: camera.ratio / factor }, { duration: 200 });
  }

  retheme(): void {
    this.theme = currentTheme();
    const g = this.graph;
    g.updateEachNodeAttributes((_, a) => {
      if (a.styleBits & 2) a.color = this.theme.pseudo;
      else a.color = nodeColour(a.colourKey as string, this.theme.dark);
      return a;
    });
    this.sigma?.setSettings(this.settings());
  }

  counts(): { nodes: number; edges: number; selfLoops: number; dangling: number } {
    let selfLoops = 0;
    this.graph.forEachEdge((_, __, s, t) => {
      if (s === t) selfLoops++;
    });
    let dangling = 0;
    for (const set of this.dangling.values()) dangling += set.size;
    return { nodes: this.graph.order, edges: this.graph.size, selfLoops, dangling };
  }

  layoutRunning(): boolean {
    return this.layout.running;
  }

  sigmaInstance(): Sigma | null {
    return this.sigma;
  }

  show(visible: boolean): void {
    this.container.hidden = !visible;
    if (visible) this.sigma?.resize();
  }
}

/**
 * The frame around a layout, widened for small graphs: two nodes should sit near the middle,
 * not in opposite corners of the screen.
 */
function padded(box: { x: [number, number]; y: [number, number] }, n: number): { x: [number, number]; y: [number, number] } {
  const cx = (box.x[0] + box.x[1]) / 2;
  const cy = (box.y[0] + box.y[1]) / 2;
  const half = (Math.max(box.x[1] - box.x[0], box.y[1] - box.y[0], 1e-6) / 2) * (1 + 1.2 / Math.sqrt(Math.max(n, 1)));
  return { x: [cx - half, cx + half], y: [cy - half, cy + half] };
}

/** A label centred under its node, the minor label beneath it, with a halo for legibility. */
function drawLabel(
  ctx: CanvasRenderingContext2D,
  data: LabelData,
  settings: Settings,
  theme: Theme,
  hover: boolean,
): void {
  if (!data.label) return;
  const size = settings.labelSize;
  const font = settings.labelFont;
  const label = data.label.length > 40 ? `${data.label.slice(0, 38)}…` : data.label;
  const minor = data.minor && data.minor.length > 44 ? `${data.minor.slice(0, 42)}…` : data.minor;
  const y = data.y + data.size + size + 2;
  ctx.textAlign = "center";
  ctx.lineJoin = "round";
  if (hover) {
    ctx.font = `600 ${size}px ${font}`;
    const w = Math.max(ctx.measureText(label).width, minor ? ctx.measureText(minor).width * 0.9 : 0) + 14;
    const h = size + (minor ? size + 2 : 0) + 10;
    ctx.fillStyle = theme.background;
    ctx.shadowColor = "rgba(0,0,0,0.25)";
    ctx.shadowBlur = 10;
    ctx.beginPath();
    ctx.roundRect(data.x - w / 2, y - size - 3, w, h, 6);
    ctx.fill();
    ctx.shadowBlur = 0;
    ctx.strokeStyle = theme.accent;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(data.x, data.y, data.size + 3, 0, Math.PI * 2);
    ctx.stroke();
  }
  ctx.font = `${hover ? 600 : settings.labelWeight} ${size}px ${font}`;
  ctx.strokeStyle = theme.background;
  ctx.lineWidth = 3;
  ctx.strokeText(label, data.x, y);
  ctx.fillStyle = theme.text;
  ctx.fillText(label, data.x, y);
  if (minor) {
    ctx.font = `400 ${size - 1.5}px ${font}`;
    ctx.strokeText(minor, data.x, y + size);
    ctx.fillStyle = theme.muted;
    ctx.fillText(minor, data.x, y + size);
  }
  ctx.textAlign = "start";
}
