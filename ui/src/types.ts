// The shapes of the API's answers (README "The app", scope-compat.md §4).
export interface MetadataRow {
  id: string;
  label: string;
  value: string;
  priority?: number;
  dataType?: string;
  truncate?: number;
}

export interface Sample {
  date: string;
  value: number;
}

export interface MetricRow {
  id: string;
  label: string;
  format?: string;
  group?: string;
  value: number;
  valueEmpty?: boolean;
  priority?: number;
  samples?: Sample[] | null;
  min: number;
  max: number;
}

export interface Parent {
  id: string;
  label: string;
  topologyId: string;
}

export interface NodeSummary {
  id: string;
  label: string;
  labelMinor: string;
  rank: string;
  shape?: string;
  tag?: string;
  stack?: boolean;
  pseudo?: boolean;
  metadata?: MetadataRow[];
  parents?: Parent[];
  metrics?: MetricRow[];
  adjacency?: string[];
}

export interface Column {
  id: string;
  label: string;
  defaultSort?: boolean;
  dataType?: string;
}

export interface ChildTable {
  id: string;
  label: string;
  topologyId: string;
  columns: Column[];
  nodes: NodeSummary[];
}

export interface ConnectionTable {
  id: string;
  topologyId: string;
  label: string;
  columns: Column[];
  connections: { id: string; nodeId: string; label: string; labelMinor?: string; metadata?: MetadataRow[] }[] | null;
}

export interface DetailedNode extends NodeSummary {
  children?: ChildTable[];
  connections?: ConnectionTable[];
}

export interface IngestHealth {
  collector: string;
  sources: string[];
  since?: string;
  backlog_records?: number;
  backlog_bytes?: number;
  oldest_pending?: string | null;
  updated?: string;
}

export interface Degraded {
  sources?: string[];
  missing_reports?: number;
  since?: Record<string, string>;
  ingest?: IngestHealth[];
  /** A tenant's first answer: the newest reports of the window, while the rest is merged. */
  partial_window?: boolean;
}

export interface OptionGroup {
  id: string;
  defaultValue: string;
  selectType?: "one" | "union";
  noneLabel?: string;
  options: { value: string; label: string }[];
}

export interface TopologyDesc {
  name: string;
  rank: number;
  hide_if_empty?: boolean;
  url: string;
  options?: OptionGroup[] | null;
  sub_topologies?: TopologyDesc[] | null;
  stats?: { node_count: number; nonpseudo_node_count: number; edge_count: number; filtered_nodes: number };
}

export interface Diff {
  add: NodeSummary[] | null;
  update: NodeSummary[] | null;
  remove: string[] | null;
  reset?: boolean;
  degraded?: Degraded;
}

export interface Status {
  version: string;
  hostname: string;
  window: string;
  degraded: Degraded | null;
  sources: Record<string, string>;
  ingest: IngestHealth[];
}

/** The view id is the last path segment of a topology's `url`. */
export function viewId(desc: TopologyDesc): string {
  return desc.url.split("/").pop() ?? desc.name;
}
