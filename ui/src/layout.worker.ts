// The layout worker: runs ForceAtlas2 iterations (graphology-layout-forceatlas2's own step
// function) on the matrices the page sends, and posts positions back every few frames, so
// the page never blocks on layout. A new run replaces the one in progress.
// @ts-expect-error: the package ships this step function without types
import iterate from "graphology-layout-forceatlas2/iterate.js";

export interface RunMessage {
  type: "run";
  run: number;
  nodes: Float32Array;
  edges: Float32Array;
  settings: Record<string, number | boolean>;
  iterations: number;
  budgetMs: number;
}

export interface PositionsMessage {
  type: "positions";
  run: number;
  /** x, y per node, in the order of the run's node matrix. */
  xy: Float32Array;
  done: boolean;
  iterations: number;
}

const PPN = 10;
const SLICE_MS = 30;
/**
 * How often positions go to the page: every slice for small graphs, less often for large ones,
 * where each batch re-indexes every node on the page and redraws thousands of edges (slow on
 * software WebGL): posting every 30 ms there queued more redraws than the page could draw.
 */
const postEvery = (n: number) => (n > 1000 ? 250 : 0);
let current = 0;

self.onmessage = (e: MessageEvent<RunMessage | { type: "stop" }>) => {
  if (e.data.type === "stop") {
    current = -1;
    return;
  }
  const msg = e.data;
  current = msg.run;
  const started = performance.now();
  let done = 0;
  let posted = 0;
  const step = () => {
    if (current !== msg.run) return;
    const sliceEnd = performance.now() + SLICE_MS;
    while (done < msg.iterations && performance.now() < sliceEnd) {
      iterate(msg.settings, msg.nodes, msg.edges);
      done++;
    }
    const finished = done >= msg.iterations || performance.now() - started > msg.budgetMs;
    const n = msg.nodes.length / PPN;
    if (!finished && performance.now() - posted < postEvery(n)) {
      setTimeout(step, 0);
      return;
    }
    posted = performance.now();
    const xy = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      xy[2 * i] = msg.nodes[i * PPN];
      xy[2 * i + 1] = msg.nodes[i * PPN + 1];
    }
    const out: PositionsMessage = { type: "positions", run: msg.run, xy, done: finished, iterations: done };
    (self as unknown as Worker).postMessage(out, [xy.buffer]);
    if (!finished) setTimeout(step, 0);
  };
  step();
};
