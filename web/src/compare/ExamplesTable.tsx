import { useLayoutEffect, useRef } from "preact/hooks";
import { exact, num, seconds, text } from "../format";
import { ExamplesQuery } from "../queries";
import { useQuery } from "../useQuery";
import type { View } from "../view";
import { downloadCsv, downloadJson, examplesCsv } from "./exporting";
import type { ExampleRow, ExampleRun, Group } from "./types";

export const PAGE_SIZE = 50;
const FOLD_AT = 160; // characters shown before a value folds

/** The group's examples, a page at a time, as examples × experiments.
 *
 *  Each experiment's runs are those its group filter selects (the group's own `filter`
 *  string, with the experiment's filter AND-ed in: spec §5.5), so the rows are the
 *  examples any chosen experiment ran in this group; an experiment that did not run an
 *  example shows "no run". */
export function ExamplesTable(props: {
  datasetId: string;
  group: Group;
  view: View;
  names: Map<string, string>;
  onPage: (page: number) => void;
  onRefused: (message: string) => void;
  pollMs: number;
  refresh: number; // moves when the comparison changed (live.ts)
}) {
  const { group, view } = props;
  const filters = view.sessions.map((s) => {
    const own = group.sessions.find((g) => g.session.id === s)?.filter;
    const extra = view.filters[s];
    return { sessionId: s, filters: [own ?? (extra ? `and(${group.filter}, ${extra})` : group.filter)] };
  });
  const page = view.group === String(group.groupKey) ? view.page : 0;
  const result = useQuery(
    ExamplesQuery,
    {
      datasetId: props.datasetId,
      input: { sessionIds: view.sessions, filters, offset: page * PAGE_SIZE, limit: PAGE_SIZE + 1 },
    },
    props.onRefused,
    props.pollMs,
    props.refresh,
  );
  const rows = result.data?.datasetRuns.slice(0, PAGE_SIZE) ?? [];
  const hasNext = (result.data?.datasetRuns.length ?? 0) > PAGE_SIZE;

  // Render time of a page, from its data's arrival to the browser's next frame (reported
  // by the browser tests; `performance.getEntriesByName("examples:render")`).
  const arrived = useRef<unknown>(null);
  if (result.data && arrived.current !== result.data) {
    arrived.current = result.data;
    performance.mark("examples:data");
  }
  useLayoutEffect(() => {
    if (!result.data) return;
    requestAnimationFrame(() => performance.measure("examples:render", "examples:data"));
  }, [result.data]);

  const keys = [...new Set(rows.flatMap((r) => r.runs.flatMap((run) => run.feedbacks.map((f) => f.key))))].sort();
  return (
    <section aria-labelledby="examples-title" class="panel">
      <div class="toolbar">
        <h2 id="examples-title">
          Examples of {String(group.groupKey)}{" "}
          <span class="hint">
            {rows.length ? `${page * PAGE_SIZE + 1}–${page * PAGE_SIZE + rows.length}` : "none"}
          </span>
        </h2>
        <nav aria-label="Pages of examples" class="pager">
          <button type="button" disabled={page === 0} onClick={() => props.onPage(page - 1)}>
            ← Previous
          </button>
          <span>Page {page + 1}</span>
          <button type="button" disabled={!hasNext} onClick={() => props.onPage(page + 1)}>
            Next →
          </button>
          <button
            type="button"
            disabled={!rows.length}
            onClick={() => downloadCsv(`examples-${String(group.groupKey)}-p${page + 1}.csv`, examplesCsv(rows, view.sessions, props.names, keys))}
          >
            Examples CSV
          </button>
          <button
            type="button"
            disabled={!rows.length}
            onClick={() => downloadJson(`examples-${String(group.groupKey)}-p${page + 1}.json`, rows)}
          >
            Examples JSON
          </button>
        </nav>
      </div>
      {result.error && <p class="error" role="alert">{result.error}</p>}
      {result.loading && !result.data && <p aria-busy="true">Loading…</p>}
      <div class="scroll">
        <table class="examples" data-testid="examples-table">
          <thead>
            <tr>
              <th scope="col">Example</th>
              {view.sessions.map((s) => (
                <th scope="col" key={s}>
                  {props.names.get(s) ?? s}
                  {s === view.baseline && <span class="badge">baseline</span>}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <Row key={row.example.id} row={row} sessions={view.sessions} baseline={view.baseline} />
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Row({ row, sessions, baseline }: { row: ExampleRow; sessions: string[]; baseline: string | null }) {
  const bySession = new Map<string, ExampleRun[]>();
  for (const run of row.runs) {
    const list = bySession.get(run.session.id);
    if (list) list.push(run);
    else bySession.set(run.session.id, [run]);
  }
  const baseOutput = baseline ? bySession.get(baseline)?.[0]?.outputs : undefined;
  return (
    <tr data-example={row.example.id}>
      <th scope="row" class="example-cell">
        <Value label="inputs" value={row.example.inputs} />
        {row.example.outputs != null && <Value label="reference" value={row.example.outputs} />}
      </th>
      {sessions.map((s) => {
        const runs = bySession.get(s) ?? [];
        if (!runs.length) return <td key={s} class="missing">no run</td>;
        return (
          <td key={s} data-session={s}>
            {runs.map((run) => {
              const differs =
                baseline !== null && s !== baseline && baseOutput !== undefined && JSON.stringify(run.outputs) !== JSON.stringify(baseOutput);
              return (
                <div class={differs ? "run differs" : "run"} key={run.id} data-run={run.id}>
                  {differs && <span class="badge differs-badge" title="The output differs from the baseline's">≠ baseline</span>}
                  {run.error ? (
                    <div class="run-error" title={run.error}>error: {fold(run.error)}</div>
                  ) : (
                    <Value label={null} value={run.outputs} />
                  )}
                  <div class="scores">
                    {run.feedbacks.map((f, i) => (
                      <span class="score" key={`${f.key}-${i}`} title={f.comment ?? exact(f.score ?? text(f.value))} data-key={f.key}>
                        {f.key}: {f.score !== null ? num(f.score) : text(f.value)}
                      </span>
                    ))}
                  </div>
                  <div class="hint" title={exact(run.latency)}>
                    {seconds(run.latency)} · {run.totalTokens} tokens · {run.status.toLowerCase()}
                  </div>
                </div>
              );
            })}
          </td>
        );
      })}
    </tr>
  );
}

function fold(value: string): string {
  return value.length > FOLD_AT ? `${value.slice(0, FOLD_AT)}…` : value;
}

/** A JSON value; a long one folds behind a disclosure (keyboard-operable <details>). */
function Value({ label, value }: { label: string | null; value: unknown }) {
  const shown = text(value);
  const head = label ? <span class="label">{label}: </span> : null;
  if (shown.length <= FOLD_AT) {
    return (
      <div class="value">
        {head}
        {shown}
      </div>
    );
  }
  return (
    <details class="value">
      <summary>
        {head}
        {fold(shown)}
      </summary>
      <pre>{shown}</pre>
    </details>
  );
}
