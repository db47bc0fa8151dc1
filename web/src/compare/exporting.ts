// Export of what the page shows: built in the browser from the answers it already holds.
import { text } from "../format";
import type { ExampleRow, Group } from "./types";
import { feedbackDelta, feedbackKeys, statOf } from "./types";

function cell(value: unknown): string {
  const s = value === null || value === undefined ? "" : typeof value === "string" ? value : String(value);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: unknown[][]): string {
  return rows.map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

export function groupsCsv(groups: readonly Group[]): string {
  const keys = feedbackKeys(groups);
  const header = [
    "group", "session_id", "session", "run_count", "example_count", "error_rate",
    "latency_p50", "latency_p99", "total_tokens", "total_cost",
    ...keys.flatMap((k) => [`${k}.n`, `${k}.avg`, `${k}.stdev`, `${k}.delta`, `${k}.delta_ci_low`,
      `${k}.delta_ci_high`, `${k}.delta_p_value`]),
  ];
  const rows: unknown[][] = [header];
  for (const g of groups) {
    for (const s of g.sessions) {
      rows.push([
        g.groupKey, s.session.id, s.session.name, s.runCount, s.exampleCount, s.errorRate,
        s.latencyP50, s.latencyP99, s.totalTokens, s.totalCost,
        ...keys.flatMap((k) => {
          const f = statOf(s, k);
          const d = feedbackDelta(s, k); // against the baseline; empty for the baseline itself
          return [f?.n, f?.avg, f?.stdev, d?.meanDelta, d?.ciLow, d?.ciHigh, d?.pValue];
        }),
      ]);
    }
  }
  return toCsv(rows);
}

export function examplesCsv(rows: ExampleRow[], sessions: string[], names: Map<string, string>, keys: string[]): string {
  const header = ["example_id", "inputs", "reference_outputs", "session_id", "session", "run_id", "status", "outputs", "error", "latency", "total_tokens", ...keys];
  const out: unknown[][] = [header];
  for (const row of rows) {
    for (const s of sessions) {
      for (const run of row.runs.filter((r) => r.session.id === s)) {
        const score = (k: string) => run.feedbacks.find((f) => f.key === k);
        out.push([
          row.example.id, JSON.stringify(row.example.inputs), JSON.stringify(row.example.outputs), s, names.get(s) ?? s,
          run.id, run.status, JSON.stringify(run.outputs), run.error, run.latency, run.totalTokens,
          ...keys.map((k) => {
            const f = score(k);
            return f ? (f.score ?? text(f.value)) : "";
          }),
        ]);
      }
    }
  }
  return toCsv(out);
}

function download(name: string, body: string, type: string): void {
  const url = URL.createObjectURL(new Blob([body], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name.replace(/[^\w.-]+/g, "_");
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export const downloadCsv = (name: string, body: string) => download(name, body, "text/csv");
export const downloadJson = (name: string, value: unknown) => download(name, JSON.stringify(value, null, 2), "application/json");
