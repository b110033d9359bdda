import { describe, expect, it } from "vitest";
import { clusterShown, copyState, nodeState, orderedNodes, type ClusterStatus, type NodeStatus } from "./cluster-status";

const beat = (node: string, leader = false) => ({ node, url: `http://${node}:8080`, version: "0.1.0", leader, at_ms: 1_796_696_200_429 });
const node = (name: string, heartbeat: NodeStatus["heartbeat"]): NodeStatus => ({ node: name, heartbeat, acked: 10, lag: 0 });
const status: ClusterStatus = {
  leader: "agg-1",
  stream: { messages: 1, bytes: 2, first_seq: 1, last_seq: 1, leader: null, copies: [] },
  nodes: [],
};

describe("clusterShown", () => {
  it("is a node alone when the cluster is off", () => {
    expect(clusterShown({ enabled: false, node: null, status: null, error: null })).toEqual({ kind: "alone" });
  });

  it("is the error when the state could not be read", () => {
    expect(clusterShown({ enabled: true, node: "agg-1", status: null, error: "NATS did not answer within 5 seconds" })).toEqual({
      kind: "error",
      error: "NATS did not answer within 5 seconds",
    });
    expect(clusterShown({ enabled: true, node: "agg-1", status: null, error: null })).toEqual({ kind: "error", error: null });
  });

  it("is the state, with this node's name, otherwise", () => {
    expect(clusterShown({ enabled: true, node: "agg-1", status, error: null })).toEqual({ kind: "status", node: "agg-1", status });
  });
});

describe("nodeState", () => {
  it("is down without a heartbeat, even for the lease's holder", () => {
    expect(nodeState(node("agg-1", null), "agg-1")).toBe("down");
  });

  it("follows the lease, and the heartbeat's flag when the lease is unknown", () => {
    expect(nodeState(node("agg-1", beat("agg-1", false)), "agg-1")).toBe("leader");
    expect(nodeState(node("agg-2", beat("agg-2", true)), "agg-1")).toBe("replica");
    expect(nodeState(node("agg-2", beat("agg-2", true)), null)).toBe("leader");
    expect(nodeState(node("agg-2", beat("agg-2", false)), null)).toBe("replica");
  });
});

describe("copyState", () => {
  it("is offline first, then current or catching up", () => {
    expect(copyState({ current: true, offline: true })).toBe("offline");
    expect(copyState({ current: true, offline: false })).toBe("current");
    expect(copyState({ current: false, offline: false })).toBe("catching_up");
  });
});

describe("orderedNodes", () => {
  it("puts the leader first, the nodes down last, by name within each", () => {
    const nodes = [node("c", null), node("b", beat("b")), node("z", beat("z")), node("a", null), node("m", beat("m"))];
    expect(orderedNodes(nodes, "z").map((each) => each.node)).toEqual(["z", "b", "m", "a", "c"]);
    expect(nodes.map((each) => each.node)).toEqual(["c", "b", "z", "a", "m"]);
  });
});
