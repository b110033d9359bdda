// Cluster (instance admins): whether this Hitkeep runs alone or as one of several aggregators
// on a NATS cluster; in a cluster, the leader of the singleton jobs, the ingest stream and its
// copies, and every aggregator with its position, lag and last heartbeat, refreshed every 10 s
// while the page is shown. A server without `GET /api/cluster` says so instead of failing.
import { useEffect, useState } from "preact/hooks";
import { ErrorMessage, Spinner } from "../../components/status";
import { ApiError, get } from "../../lib/api";
import { formatBytes, formatNumber } from "../../lib/format";
import { currentLanguage, t } from "../../lib/i18n";
import { useLoad } from "../../lib/stats";
import { clusterShown, copyState, nodeState, orderedNodes, type ClusterStatus, type ClusterView, type CopyStatus, type NodeStatus } from "./cluster-status";
import { SectionHead } from "./forms";
import { timeAgo } from "./when";

/** How often the state is asked again while the page is shown. */
export const CLUSTER_REFRESH_MS = 10_000;

/** A number that grows every `ms` while the page is shown and `active`, and when it is shown again. */
function useVisibleTicks(ms: number, active: boolean): [number, () => void] {
  const [ticks, setTicks] = useState(0);
  const tick = () => setTicks((value) => value + 1);
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => {
      if (document.visibilityState !== "hidden") tick();
    }, ms);
    const shown = () => {
      if (document.visibilityState === "visible") tick();
    };
    document.addEventListener("visibilitychange", shown);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", shown);
    };
  }, [ms, active]);
  return [ticks, tick];
}

export function ClusterSection() {
  // A node alone stays alone until it restarts, and a server without the route does not
  // grow one: only a cluster's state (or a failed question) is asked again.
  const [live, setLive] = useState(true);
  const [ticks, refresh] = useVisibleTicks(CLUSTER_REFRESH_MS, live);
  const answer = useLoad(`cluster`, (signal) => get<ClusterView>("/api/cluster", signal), ticks);
  const missing = answer.error instanceof ApiError && (answer.error.status === 404 || answer.error.status === 405);
  const shown = answer.data ? clusterShown(answer.data) : null;
  const settled = missing || shown?.kind === "alone";
  useEffect(() => setLive(!settled), [settled]);
  return (
    <>
      <SectionHead title={t("settings.section_cluster")} intro={t("settings.cluster_intro")} />
      <div class="card settings-card cluster-card">
        {settled || (!answer.data && !answer.error) ? null : (
          <div class="cluster-toolbar">
            <span class="muted small">{t("settings.cluster_auto_refresh")}</span>
            <button type="button" class="button secondary small" onClick={refresh} aria-busy={answer.loading}>
              {t("settings.cluster_refresh")}
            </button>
          </div>
        )}
        {answer.loading && !answer.data ? <Spinner /> : null}
        {missing ? <p class="muted">{t("settings.cluster_unreported")}</p> : answer.error ? <ErrorMessage error={answer.error} /> : null}
        {shown?.kind === "alone" ? <p class="cluster-alone">{t("settings.cluster_alone")}</p> : null}
        {shown?.kind === "error" ? (
          <p class="error" role="alert">
            {shown.error ?? t("settings.cluster_unknown")}
          </p>
        ) : null}
        {shown?.kind === "status" ? <Overview status={shown.status} self={shown.node} /> : null}
      </div>
      {shown?.kind === "status" ? <Nodes status={shown.status} self={shown.node} /> : null}
    </>
  );
}

/** "this node", after the name of the node that answered. */
function ThisNode({ name, self }: { name: string; self: string | null }) {
  return name === self ? (
    <>
      {" "}
      <span class="badge accent">{t("settings.cluster_this_node")}</span>
    </>
  ) : null;
}

/** The leader, and the ingest stream with its copies. */
function Overview({ status, self }: { status: ClusterStatus; self: string | null }) {
  const lang = currentLanguage();
  const { stream } = status;
  return (
    <dl class="cluster-facts">
      <div>
        <dt>{t("settings.cluster_leader")}</dt>
        <dd>
          {status.leader ? (
            <span class="cluster-name">
              <strong>{status.leader}</strong>
              <ThisNode name={status.leader} self={self} />
            </span>
          ) : (
            <span class="muted">{t("settings.cluster_no_leader")}</span>
          )}
          <span class="muted small">{t("settings.cluster_leader_hint")}</span>
        </dd>
      </div>
      <div>
        <dt>{t("settings.cluster_stream")}</dt>
        <dd>
          <span>
            {t("settings.cluster_stream_held", { count: stream.messages, size: formatBytes(stream.bytes, lang) })}
            {stream.messages > 0 ? (
              <span class="muted">
                {" · "}
                {stream.first_seq === stream.last_seq
                  ? t("settings.cluster_stream_position", { position: stream.last_seq })
                  : t("settings.cluster_stream_positions", { first: stream.first_seq, last: stream.last_seq })}
              </span>
            ) : null}
          </span>
          {stream.leader ? <span class="muted small">{t("settings.cluster_stream_leader", { server: stream.leader })}</span> : null}
        </dd>
      </div>
      <div>
        <dt>{t("settings.cluster_copies")}</dt>
        <dd>
          {stream.copies.length === 0 ? (
            <span class="muted">{t("settings.cluster_no_copies")}</span>
          ) : (
            <ul class="cluster-copies">
              {stream.copies.map((copy) => (
                <Copy copy={copy} key={copy.server} />
              ))}
            </ul>
          )}
        </dd>
      </div>
    </dl>
  );
}

function Copy({ copy }: { copy: CopyStatus }) {
  const state = copyState(copy);
  const badge = { current: "good-badge", catching_up: "", offline: "bad-badge" }[state];
  return (
    <li>
      <strong>{copy.server}</strong>{" "}
      <span class={`badge ${badge}`}>
        {state === "catching_up" && copy.lag !== null
          ? t("settings.cluster_copy_behind", { count: copy.lag })
          : t(`settings.cluster_copy_${state}`)}
      </span>
    </li>
  );
}

/** Every aggregator: a table, cards on a phone. */
function Nodes({ status, self }: { status: ClusterStatus; self: string | null }) {
  const columns = ["node", "state", "position", "lag", "heartbeat", "url"].map((column) => t(`settings.cluster_col_${column}`));
  const nodes = orderedNodes(status.nodes, status.leader);
  const now = Date.now();
  return (
    <div class="card settings-card">
      <h3 id="cluster-nodes-title">{t("settings.cluster_nodes")}</h3>
      {nodes.length === 0 ? (
        <p class="muted">{t("settings.cluster_no_nodes")}</p>
      ) : (
        <>
          <table class="data cluster-nodes" aria-labelledby="cluster-nodes-title">
            <thead>
              <tr>
                {columns.map((column, index) => (
                  <th scope="col" key={column} class={index === 2 || index === 3 ? "number" : undefined}>
                    {column}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {nodes.map((node) => (
                <NodeRow node={node} leader={status.leader} self={self} columns={columns} now={now} key={node.node} />
              ))}
            </tbody>
          </table>
          <p class="muted small cluster-note">{t("settings.cluster_nodes_note")}</p>
        </>
      )}
    </div>
  );
}

function NodeRow({ node, leader, self, columns, now }: { node: NodeStatus; leader: string | null; self: string | null; columns: string[]; now: number }) {
  const lang = currentLanguage();
  const state = nodeState(node, leader);
  const badge = { leader: "good-badge", replica: "", down: "bad-badge" }[state];
  return (
    <tr class={state === "down" ? "cluster-down" : undefined}>
      <th scope="row" data-label={columns[0]}>
        <span class="cluster-name">
          <strong>{node.node}</strong>
          <ThisNode name={node.node} self={self} />
        </span>
      </th>
      <td data-label={columns[1]}>
        <span class={`badge ${badge}`}>{t(`settings.cluster_state_${state}`)}</span>
      </td>
      <td data-label={columns[2]} class="number">
        {node.acked === null ? "—" : formatNumber(node.acked, lang)}
      </td>
      <td data-label={columns[3]} class="number">
        {node.lag === null ? "—" : formatNumber(node.lag, lang)}
      </td>
      <td data-label={columns[4]}>{node.heartbeat ? timeAgo(node.heartbeat.at_ms, now, lang) : <span class="muted">{t("settings.cluster_no_heartbeat")}</span>}</td>
      <td data-label={columns[5]}>{node.heartbeat ? <span class="cluster-url">{node.heartbeat.url}</span> : "—"}</td>
    </tr>
  );
}
