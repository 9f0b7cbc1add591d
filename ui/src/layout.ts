// Layout on the page's side: places new nodes near their neighbours (existing nodes never
// move for an update), and hands ForceAtlas2 runs to the worker. The first layout of a view
// is a full run; later runs only settle the new nodes, with every other node fixed.
import type Graph from "graphology";
// @ts-expect-error: the package ships this helper without types
import { graphToByteArrays } from "graphology-layout-forceatlas2/helpers.js";
import { report } from "./events";
import type { PositionsMessage, RunMessage } from "./layout.worker";

declare const __LAYOUT_WORKER__: string;

/** A deterministic position for a node with no placed neighbour: the same id lands at the same spot. */
function hash(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) / 4294967296;
}

export class Layout {
  private worker: Worker | null = null;
  private run = 0;
  private order: string[] = [];
  private latest: PositionsMessage | null = null;
  running = false;
  /** Called after positions from the worker were applied. */
  onTick: (done: boolean) => void = () => {};

  constructor(private graph: Graph) {
    try {
      this.worker = new Worker(new URL(__LAYOUT_WORKER__, document.baseURI), { type: "module" });
      this.worker.onmessage = (e: MessageEvent<PositionsMessage>) => this.apply(e.data);
      this.worker.onerror = (e) => {
        // Nodes keep the positions they were placed at; the page stays usable.
        this.running = false;
        report("slow-render", `layout worker failed: ${e.message}`);
      };
    } catch {
      this.worker = null; // positions from placement alone
    }
  }

  /**
   * Gives each node in `fresh` a position: the middle of its placed neighbours, or a spot on a
   * spiral around the drawing for a node without any.
   */
  place(fresh: string[]): void {
    const g = this.graph;
    const placed = (id: string) => g.getNodeAttribute(id, "placed") === true;
    let extent = 1;
    g.forEachNode((_, a) => {
      if (a.placed) extent = Math.max(extent, Math.abs(a.x), Math.abs(a.y));
    });
    const spread = Math.max(10, Math.sqrt(fresh.length) * 12);
    // Two passes: a node whose neighbours are all new still lands near them on the second.
    const pending = new Set(fresh);
    for (let pass = 0; pass < 2; pass++) {
      for (const id of pending) {
        let x = 0;
        let y = 0;
        let n = 0;
        g.forEachNeighbor(id, (other) => {
          if (other !== id && placed(other)) {
            x += g.getNodeAttribute(other, "x");
            y += g.getNodeAttribute(other, "y");
            n++;
          }
        });
        if (n === 0 && pass === 0) continue;
        const r = hash(id);
        if (n > 0) {
          const angle = r * Math.PI * 2;
          x = x / n + Math.cos(angle) * 8;
          y = y / n + Math.sin(angle) * 8;
        } else {
          // Golden-angle spiral: unconnected nodes fill a disc without overlapping.
          const k = Math.floor(r * fresh.length * 4) + 1;
          const angle = k * 2.39996;
          const radius = (extent > 1 ? extent : 0) + spread * Math.sqrt(k / (fresh.length * 4));
          x = Math.cos(angle) * radius;
          y = Math.sin(angle) * radius;
        }
        g.mergeNodeAttributes(id, { x, y, placed: true });
        pending.delete(id);
      }
    }
  }

  /** Runs ForceAtlas2: everything (`full`) or only `fresh` nodes with the rest fixed. */
  start(kind: "full" | "settle", fresh: Set<string>): void {
    const g = this.graph;
    if (!this.worker || g.order === 0) return;
    if (kind === "settle" && fresh.size === 0) return;
    g.forEachNode((id) => g.setNodeAttribute(id, "fixed", kind === "settle" && !fresh.has(id)));
    const { nodes, edges } = graphToByteArrays(g, () => 1) as { nodes: Float32Array; edges: Float32Array };
    this.order = g.nodes();
    const n = g.order;
    const settings = {
      barnesHutOptimize: n > 400,
      barnesHutTheta: 0.6,
      strongGravityMode: true,
      gravity: 0.4,
      scalingRatio: 40,
      slowDown: 1 + Math.log(n),
      linLogMode: false,
      outboundAttractionDistribution: false,
      adjustSizes: false,
      edgeWeightInfluence: 1,
    };
    const iterations = kind === "settle" ? 80 : n <= 300 ? 600 : n <= 2000 ? 300 : 150;
    const message: RunMessage = {
      type: "run",
      run: ++this.run,
      nodes,
      edges,
      settings,
      iterations,
      budgetMs: kind === "settle" ? 1500 : 6000,
    };
    this.running = true;
    this.worker.postMessage(message, [nodes.buffer, edges.buffer]);
  }

  stop(): void {
    this.run++;
    this.running = false;
    this.worker?.postMessage({ type: "stop" });
  }

  private apply(msg: PositionsMessage): void {
    if (msg.run !== this.run) return;
    // Positions that arrive faster than frames are drawn: only the newest of a frame is
    // applied (the last batch of a run always is).
    const first = this.latest === null;
    this.latest = msg;
    if (msg.done) {
      this.latest = null;
      this.applyNow(msg);
    } else if (first) {
      requestAnimationFrame(() => {
        const m = this.latest;
        this.latest = null;
        if (m && m.run === this.run) this.applyNow(m);
      });
    }
  }

  private applyNow(msg: PositionsMessage): void {
    const g = this.graph;
    const xy = msg.xy;
    const index = new Map<string, number>();
    this.order.forEach((id, i) => index.set(id, i));
    // One batched update: sigma re-indexes once instead of once per node.
    g.updateEachNodeAttributes(
      (id, a) => {
        const i = index.get(id);
        if (i === undefined || a.fixed) return a;
        a.x = xy[2 * i];
        a.y = xy[2 * i + 1];
        return a;
      },
      { attributes: ["x", "y"] },
    );
    if (msg.done) this.running = false;
    this.onTick(msg.done);
  }
}
