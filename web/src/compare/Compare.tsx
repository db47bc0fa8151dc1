import { useEffect, useLayoutEffect, useMemo } from "preact/hooks";
import type { VariablesOf } from "../graphql";
import { GroupsQuery, SetupQuery } from "../queries";
import { useQuery } from "../useQuery";
import { useView, type View } from "../view";
import { Charts } from "./Charts";
import { ExamplesTable } from "./ExamplesTable";
import { ExportButtons } from "./ExportButtons";
import { GroupingPicker } from "./GroupingPicker";
import { defaultGroupBy, defaultKey } from "./grouping";
import { GroupsTable } from "./GroupsTable";
import { useGroupRunsChanged } from "../live";
import { LIVE_POLL_MS, POLL_MS } from "./polling";
import { SessionPicker } from "./SessionPicker";
import type { Group } from "./types";

const MAX_SESSIONS = 10; // groupRuns takes 1..10 sessions (spec §5.1)
const GROUPS_PER_PAGE = 20; // groupRuns' largest `limit`

export function Compare({ datasetId, onRefused }: { datasetId: string; onRefused: (m: string) => void }) {
  const [view, go] = useView();
  const setup = useQuery(SetupQuery, { datasetId, sessionIds: view.sessions }, onRefused);
  const dataset = setup.data?.dataset ?? null;

  const groupBy = view.groupBy ?? (dataset ? defaultGroupBy(dataset.exampleMetadataKeys) : "RUN_METADATA");
  const key =
    view.key ?? (dataset ? defaultKey(groupBy, dataset.exampleMetadataKeys, dataset.runMetadataKeys) : null);

  const input: VariablesOf<typeof GroupsQuery>["input"] | null =
    dataset && key && view.sessions.length
      ? {
          sessionIds: view.sessions,
          groupBy,
          metadataKey: key,
          offset: view.groupPage * GROUPS_PER_PAGE,
          limit: GROUPS_PER_PAGE,
          perGroupLimit: 1,
          preview: true,
          filters: view.sessions
            .filter((s) => view.filters[s])
            .map((s) => ({ sessionId: s, filters: [view.filters[s]] })),
        }
      : null;
  // `next` asks whether a group follows this page (the engine answers both from one state).
  const groupInput = input && {
    datasetId,
    input,
    baseline: view.sessions.length > 1 ? view.baseline : null,
    next: { ...input, offset: (view.groupPage + 1) * GROUPS_PER_PAGE, limit: 1 },
  };
  const [changes, liveness] = useGroupRunsChanged(input && { datasetId, input });
  const pollMs = liveness === "live" ? LIVE_POLL_MS : POLL_MS;
  const groups = useQuery(GroupsQuery, groupInput, onRefused, pollMs, changes);
  const groupList: readonly Group[] = groups.data?.groupRuns ?? [];
  const moreGroups = (groups.data?.next.length ?? 0) > 0;

  // When the comparison is first on screen (reported by the browser tests).
  useLayoutEffect(() => {
    if (groupList.length && !performance.getEntriesByName("groups:shown").length) {
      requestAnimationFrame(() => performance.mark("groups:shown"));
    }
  }, [groupList]);
  const selected = useMemo(
    () => groupList.find((g) => String(g.groupKey) === view.group) ?? groupList[0] ?? null,
    [groupList, view.group],
  );

  useEffect(() => {
    document.title = dataset ? `${dataset.name} · compare · evalql` : "evalql";
  }, [dataset?.name]);

  const update = (patch: Partial<View>) => go({ ...view, page: 0, groupPage: 0, ...patch });
  const names = new Map((dataset?.sessions.edges ?? []).map((e) => [e.node.id, e.node.name]));

  return (
    <main class="page">
      <header class="top">
        <p class="crumbs">
          <a href="/">Datasets</a> /
        </p>
        <h1>{dataset ? dataset.name : "Comparison"}</h1>
        {dataset && <p class="hint">{dataset.exampleCount} examples</p>}
      </header>
      {setup.error && <p class="error" role="alert">{setup.error}</p>}
      {setup.data && !dataset && (
        <p class="error" role="alert">
          Dataset {datasetId} is not in the workspace of this API key.
        </p>
      )}
      {dataset && (
        <>
          <SessionPicker
            sessions={dataset.sessions.edges.map((e) => e.node)}
            view={view}
            max={MAX_SESSIONS}
            onChange={update}
            onRefused={onRefused}
          />
          <GroupingPicker
            groupBy={groupBy}
            keyName={key}
            runKeys={dataset.runMetadataKeys}
            exampleKeys={dataset.exampleMetadataKeys}
            onChange={update}
          />
          {view.sessions.length === 0 && <p>Choose at least one experiment above.</p>}
          {view.sessions.length > 0 && !key && (
            <p class="notice" role="status">
              Nothing to group by: the {groupBy === "RUN_METADATA" ? "runs of these experiments" : "examples"} carry
              no metadata. Try grouping by {groupBy === "RUN_METADATA" ? "example" : "run"} metadata.
            </p>
          )}
          {groups.error && <p class="error" role="alert">{groups.error}</p>}
          {groups.data && groupList.length === 0 && (
            <p class="notice" role="status">
              No group: no example was run by every chosen experiment with a value of <code>{key}</code>
              {Object.keys(view.filters).length ? " that passes the filters" : ""}.
            </p>
          )}
          {groupList.length > 0 && (
            <>
              <div class="toolbar">
                <span class={`liveness ${liveness}`} title={liveness === "live"
                  ? "Live: the server says when this comparison changes"
                  : "Asking the server every few seconds"}>
                  {liveness === "live" ? "● live" : "○ polling"}
                </span>
                <span aria-live="polite" class="hint">
                  {groups.loading
                    ? "Updating…"
                    : `Groups ${view.groupPage * GROUPS_PER_PAGE + 1}–${view.groupPage * GROUPS_PER_PAGE + groupList.length} by ${key}`}
                </span>
                {(view.groupPage > 0 || moreGroups) && (
                  <nav aria-label="Pages of groups" class="pager">
                    <button type="button" disabled={view.groupPage === 0}
                      onClick={() => go({ ...view, group: null, page: 0, groupPage: view.groupPage - 1 })}>
                      ← Previous groups
                    </button>
                    <button type="button" disabled={!moreGroups}
                      onClick={() => go({ ...view, group: null, page: 0, groupPage: view.groupPage + 1 })}>
                      Next groups →
                    </button>
                  </nav>
                )}
                <ExportButtons
                  datasetName={dataset.name}
                  view={view}
                  groupBy={groupBy}
                  metadataKey={key}
                  groups={groupList}
                  names={names}
                />
              </div>
              <GroupsTable
                groups={groupList}
                baseline={view.baseline}
                selected={selected}
                onSelect={(g) => update({ group: String(g.groupKey) })}
              />
              {selected && <Charts group={selected} names={view.sessions.map((s) => names.get(s) ?? s)} />}
              {selected && (
                <ExamplesTable
                  datasetId={datasetId}
                  group={selected}
                  view={view}
                  names={names}
                  onPage={(page) => go({ ...view, group: String(selected.groupKey), page })}
                  pollMs={pollMs}
                  refresh={changes}
                  onRefused={onRefused}
                />
              )}
            </>
          )}
        </>
      )}
    </main>
  );
}
