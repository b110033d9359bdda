// `GET /api/cluster` (instance admins): the cluster this node belongs to, as `hitkeep cluster
// status` shows it: the leader of the singleton jobs, the ingest stream and its copies on the
// NATS servers, and every aggregator with its position in the stream; and how to read them.

/** An aggregator's last heartbeat (written every few seconds, gone after 20 s without). */
export interface Heartbeat {
  node: string;
  /** Where its dashboard and API answer. */
  url: string;
  version: string;
  /** Whether it ran the singleton jobs when it wrote this. */
  leader: boolean;
  at_ms: number;
}

/** A copy of the ingest stream on a NATS server besides the one leading it. */
export interface CopyStatus {
  server: string;
  /** Caught up with the leader. */
  current: boolean;
  /** Unreachable. */
  offline: boolean;
  /** Operations behind the leader. */
  lag: number | null;
}

export interface StreamStatus {
  /** Batches held. */
  messages: number;
  bytes: number;
  first_seq: number;
  last_seq: number;
  /** The NATS server leading the stream. */
  leader: string | null;
  copies: CopyStatus[];
}

export interface NodeStatus {
  node: string;
  /** Its last heartbeat; null: down. */
  heartbeat: Heartbeat | null;
  /** The last stream position it has stored. */
  acked: number | null;
  /** Batches it is behind. */
  lag: number | null;
}

export interface ClusterStatus {
  /** The node running the singleton jobs (reports, alerts, retention). */
  leader: string | null;
  stream: StreamStatus;
  nodes: NodeStatus[];
}

export interface ClusterView {
  /** False for a node alone (the default). */
  enabled: boolean;
  /** This node's name, in a cluster. */
  node: string | null;
  status: ClusterStatus | null;
  /** Why the cluster's state could not be read. */
  error: string | null;
}

/** What the section shows: a node alone, the reason the state is unknown, or the state. */
export type ClusterShown = { kind: "alone" } | { kind: "error"; error: string | null } | { kind: "status"; node: string | null; status: ClusterStatus };

export function clusterShown(view: ClusterView): ClusterShown {
  if (!view.enabled) return { kind: "alone" };
  if (view.error !== null || view.status === null) return { kind: "error", error: view.error };
  return { kind: "status", node: view.node, status: view.status };
}

export type NodeState = "leader" | "replica" | "down";

/**
 * A node's state: down without a heartbeat; else the leader if the lease names it (its
 * heartbeat's flag when the lease could not be read), else a replica.
 */
export function nodeState(node: Pick<NodeStatus, "node" | "heartbeat">, leader: string | null): NodeState {
  if (node.heartbeat === null) return "down";
  const leads = leader !== null ? node.node === leader : node.heartbeat.leader;
  return leads ? "leader" : "replica";
}

export type CopyState = "current" | "catching_up" | "offline";

/** A stream copy's state: offline, current, or catching up. */
export function copyState(copy: Pick<CopyStatus, "current" | "offline">): CopyState {
  if (copy.offline) return "offline";
  return copy.current ? "current" : "catching_up";
}

/** The nodes in order: the leader, then the others alive, then those down; by name within each. */
export function orderedNodes(nodes: readonly NodeStatus[], leader: string | null): NodeStatus[] {
  const rank = { leader: 0, replica: 1, down: 2 };
  return [...nodes].sort(
    (a, b) => rank[nodeState(a, leader)] - rank[nodeState(b, leader)] || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0),
  );
}
