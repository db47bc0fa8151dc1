import type { View } from "../view";
import { FilterInput } from "./FilterInput";
import type { SessionInfo } from "./types";

/** The dataset's experiments: which are compared, which is the baseline, and a filter
 *  string per compared experiment. */
export function SessionPicker(props: {
  sessions: SessionInfo[];
  view: View;
  max: number;
  onChange: (patch: Partial<View>) => void;
  onRefused: (message: string) => void;
}) {
  const { sessions, view, max, onChange } = props;
  const chosen = new Set(view.sessions);
  const unknown = view.sessions.filter((id) => !sessions.some((s) => s.id === id));
  const toggle = (id: string, on: boolean) => {
    const next = on ? [...view.sessions, id] : view.sessions.filter((s) => s !== id);
    const baseline = next.includes(view.baseline ?? "") ? view.baseline : (next[0] ?? null);
    onChange({ sessions: next, baseline, group: null });
  };
  return (
    <section aria-labelledby="experiments-title" class="panel">
      <h2 id="experiments-title">Experiments</h2>
      {unknown.length > 0 && (
        <p class="error" role="alert">
          Not experiments of this dataset: {unknown.join(", ")}
        </p>
      )}
      <table class="sessions-table">
        <thead>
          <tr>
            <th scope="col">Compare</th>
            <th scope="col">Baseline</th>
            <th scope="col">Experiment</th>
            <th scope="col">Filter (runs of this experiment)</th>
          </tr>
        </thead>
        <tbody>
          {sessions.map((s) => {
            const on = chosen.has(s.id);
            return (
              <tr key={s.id} class={on ? "chosen" : ""}>
                <td>
                  <input
                    type="checkbox"
                    id={`pick-${s.id}`}
                    aria-label={`Compare ${s.name}`}
                    checked={on}
                    disabled={!on && chosen.size >= max}
                    onChange={(e) => toggle(s.id, e.currentTarget.checked)}
                  />
                </td>
                <td>
                  <input
                    type="radio"
                    name="baseline"
                    aria-label={`Baseline: ${s.name}`}
                    checked={view.baseline === s.id}
                    disabled={!on}
                    onChange={() => onChange({ baseline: s.id })}
                  />
                </td>
                <td>
                  <label for={`pick-${s.id}`}>{s.name}</label>
                  <div class="hint">{new Date(s.startTime).toLocaleString()}</div>
                </td>
                <td>
                  {on && (
                    <FilterInput
                      label={`Filter for ${s.name}`}
                      value={view.filters[s.id] ?? ""}
                      onApply={(text) => {
                        const filters = { ...view.filters };
                        if (text) filters[s.id] = text;
                        else delete filters[s.id];
                        onChange({ filters });
                      }}
                      onRefused={props.onRefused}
                    />
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
