import { exact, num, percent, seconds, cost } from "../format";
import { DeltaBadge } from "./DeltaBadge";
import { feedbackDelta, feedbackKeys, statOf, type Group } from "./types";

/** Groups × experiments: counts, feedback means with their spread, errors, latency,
 *  tokens and cost, each with its difference from the baseline (per-example latency and
 *  cost means for those two). Each number is rounded; its exact value is its tooltip. */
export function GroupsTable(props: {
  groups: readonly Group[];
  baseline: string | null;
  selected: Group | null;
  onSelect: (group: Group) => void;
}) {
  const keys = feedbackKeys(props.groups);
  return (
    <section aria-labelledby="groups-title" class="panel">
      <h2 id="groups-title">Groups</h2>
      <div class="scroll">
        <table class="groups" data-testid="groups-table">
          <thead>
            <tr>
              <th scope="col">Group</th>
              <th scope="col">Experiment</th>
              <th scope="col" class="n">Runs</th>
              <th scope="col" class="n">Examples</th>
              {keys.map((k) => (
                <th scope="col" class="n" key={k}>
                  {k}
                </th>
              ))}
              <th scope="col" class="n">Errors</th>
              <th scope="col" class="n">Latency p50</th>
              <th scope="col" class="n">p99</th>
              <th scope="col" class="n">Tokens</th>
              <th scope="col" class="n">Cost</th>
            </tr>
          </thead>
          {props.groups.map((g) => {
            const isSelected = props.selected === g;
            return (
              <tbody key={String(g.groupKey)} class={isSelected ? "selected" : ""} data-group={String(g.groupKey)}>
                {g.sessions.map((s, i) => (
                  <tr key={s.session.id} data-session={s.session.id}>
                    {i === 0 && (
                      <th scope="rowgroup" rowSpan={g.sessions.length} class="group-key">
                        <button
                          type="button"
                          aria-pressed={isSelected}
                          onClick={() => props.onSelect(g)}
                          title={`${g.exampleCount} examples, ${g.count} runs`}
                        >
                          {String(g.groupKey)}
                        </button>
                      </th>
                    )}
                    <td>
                      {s.session.name}
                      {s.session.id === props.baseline && <span class="badge">baseline</span>}
                    </td>
                    <td class="n" data-stat="runCount">{s.runCount}</td>
                    <td class="n" data-stat="exampleCount">{s.exampleCount}</td>
                    {keys.map((k) => {
                      const f = statOf(s, k);
                      return (
                        <td
                          class="n"
                          key={k}
                          data-stat={`feedback.${k}`}
                          data-exact={exact(f?.avg)}
                          title={f ? `mean ${exact(f.avg)}, stdev ${exact(f.stdev)}, n ${f.n}, min ${exact(f.min)}, max ${exact(f.max)}` : "no score"}
                        >
                          {f ? num(f.avg) : "–"}
                          {f?.stdev != null && <span class="spread"> ±{num(f.stdev)}</span>}
                          <DeltaBadge delta={feedbackDelta(s, k)} />
                        </td>
                      );
                    })}
                    <td class="n" data-stat="errorRate" title={exact(s.errorRate)}>
                      {percent(s.errorRate)}
                      <DeltaBadge delta={s.deltas?.errorRate} lowerIsBetter format={percent} />
                    </td>
                    <td class="n" data-stat="latencyP50" title={exact(s.latencyP50)}>
                      {seconds(s.latencyP50)}
                      <DeltaBadge delta={s.deltas?.latency} lowerIsBetter format={seconds} />
                    </td>
                    <td class="n" data-stat="latencyP99" title={exact(s.latencyP99)}>{seconds(s.latencyP99)}</td>
                    <td class="n" data-stat="totalTokens" title={`prompt ${s.promptTokens}, completion ${s.completionTokens}`}>
                      {num(s.totalTokens)}
                    </td>
                    <td class="n" data-stat="totalCost" title={exact(s.totalCost)}>
                      {cost(s.totalCost)}
                      <DeltaBadge delta={s.deltas?.cost} lowerIsBetter format={(v) => (v < 0 ? "-" : "") + cost(String(Math.abs(v)))} />
                    </td>
                  </tr>
                ))}
              </tbody>
            );
          })}
        </table>
      </div>
    </section>
  );
}
