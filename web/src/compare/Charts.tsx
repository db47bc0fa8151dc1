import * as Plot from "@observablehq/plot";
import { useEffect, useRef } from "preact/hooks";
import { feedbackKeys, type Group } from "./types";

/** The selected group's experiments side by side: each feedback key's mean with its
 *  spread (± one standard deviation), then latency (p50 bar, p99 tick) and cost. */
export function Charts({ group, names }: { group: Group; names: string[] }) {
  // Colours follow the chosen experiments, so one experiment keeps its colour in every group.
  const keys = feedbackKeys([group]);
  const scores = group.sessions.flatMap((s) =>
    s.feedbackStats
      .filter((f) => f.avg !== null && keys.includes(f.key))
      .map((f) => ({
        key: f.key,
        experiment: s.session.name,
        mean: f.avg as number,
        low: (f.avg as number) - (f.stdev ?? 0),
        high: (f.avg as number) + (f.stdev ?? 0),
        n: f.n,
      })),
  );
  const latency = group.sessions.map((s) => ({
    experiment: s.session.name,
    p50: s.latencyP50,
    p99: s.latencyP99,
    cost: s.totalCost === null ? null : Number(s.totalCost),
  }));
  const color = { legend: true, domain: names };
  return (
    <section aria-labelledby="charts-title" class="panel charts">
      <h2 id="charts-title">Group {String(group.groupKey)}</h2>
      {scores.length > 0 && (
        <Chart
          label="Feedback mean per key and experiment, ± one standard deviation"
          make={() =>
            Plot.plot({
              height: 240,
              marginBottom: 30,
              color,
              fx: { label: null },
              x: { axis: null, domain: group.sessions.map((s) => s.session.name) },
              y: { grid: true, label: "mean score" },
              marks: [
                Plot.barY(scores, { fx: "key", x: "experiment", y: "mean", fill: "experiment", tip: true }),
                Plot.ruleX(scores, { fx: "key", x: "experiment", y1: "low", y2: "high", stroke: "#333" }),
                Plot.ruleY([0]),
              ],
            })
          }
          deps={JSON.stringify(scores)}
        />
      )}
      <div class="chart-row">
        {latency.some((l) => l.p50 !== null) && (
          <Chart
            label="Latency per experiment: p50 bar, p99 tick (seconds)"
            make={() =>
              perExperiment(names, group, "latency (s)", [
                Plot.barY(latency, { x: "experiment", y: "p50", fill: "experiment", tip: true }),
                Plot.tickY(latency, { x: "experiment", y: "p99", strokeWidth: 2 }),
              ])
            }
            deps={JSON.stringify(latency)}
          />
        )}
        {latency.some((l) => l.cost !== null) && (
          <Chart
            label="Total cost per experiment (USD)"
            make={() =>
              perExperiment(names, group, "cost ($)", [
                Plot.barY(latency, { x: "experiment", y: "cost", fill: "experiment", tip: true }),
              ])
            }
            deps={JSON.stringify(latency)}
          />
        )}
      </div>
    </section>
  );
}

/** A small chart with one bar (and marks) per experiment of the group. */
function perExperiment(names: string[], group: Group, yLabel: string, marks: Plot.Markish[]) {
  return Plot.plot({
    height: 200,
    width: 360,
    marginLeft: 56,
    color: { domain: names },
    x: { label: null, domain: group.sessions.map((s) => s.session.name), tickFormat: () => "" },
    y: { grid: true, label: yLabel },
    marks,
  });
}

function Chart({ label, make, deps }: { label: string; make: () => Element; deps: string }) {
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    const chart = make();
    ref.current?.replaceChildren(chart);
    return () => chart.remove();
  }, [deps]);
  return <figure ref={ref} role="img" aria-label={label} class="chart" />;
}
