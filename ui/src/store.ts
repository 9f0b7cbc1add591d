// The current view's nodes, kept from the first answer and changed by each websocket diff.
import type { Diff, NodeSummary } from "./types";

export interface Change {
  reset: boolean;
  added: NodeSummary[];
  updated: NodeSummary[];
  removed: string[];
}

export class Store {
  readonly nodes = new Map<string, NodeSummary>();

  /**
   * Applies a diff. A reset (the websocket's first message, also after a reconnect) becomes a
   * diff against what is kept, so nodes that stayed keep their place in the graph.
   */
  apply(diff: Diff): Change {
    const change: Change = { reset: false, added: [], updated: [], removed: [] };
    if (diff.reset) {
      const keep = new Set<string>();
      for (const n of diff.add ?? []) keep.add(n.id);
      for (const n of diff.update ?? []) keep.add(n.id);
      for (const id of [...this.nodes.keys()]) {
        if (!keep.has(id)) {
          this.nodes.delete(id);
          change.removed.push(id);
        }
      }
    }
    for (const id of diff.remove ?? []) {
      if (this.nodes.delete(id)) change.removed.push(id);
    }
    for (const n of [...(diff.add ?? []), ...(diff.update ?? [])]) {
      (this.nodes.has(n.id) ? change.updated : change.added).push(n);
      this.nodes.set(n.id, n);
    }
    return change;
  }

  /** Forgets everything (another view, options or moment): the next answer is drawn afresh. */
  clear(): Change {
    const change: Change = { reset: true, added: [], updated: [], removed: [...this.nodes.keys()] };
    this.nodes.clear();
    return change;
  }

  /** Replaces everything with a whole answer (history). */
  replace(nodes: Record<string, NodeSummary>): Change {
    return this.apply({ add: Object.values(nodes), update: null, remove: null, reset: true });
  }

  /** Edges as the API counts them: every adjacency entry. */
  edgeCount(): number {
    let n = 0;
    for (const node of this.nodes.values()) n += node.adjacency?.length ?? 0;
    return n;
  }
}
