import type { ResultOf } from "../graphql";
import type { ExamplesQuery, GroupsQuery, SetupQuery } from "../queries";

export type Group = ResultOf<typeof GroupsQuery>["groupRuns"][number];
export type GroupSession = Group["sessions"][number];
export type ExampleRow = ResultOf<typeof ExamplesQuery>["datasetRuns"][number];
export type ExampleRun = ExampleRow["runs"][number];
export type DatasetInfo = NonNullable<ResultOf<typeof SetupQuery>["dataset"]>;
export type SessionInfo = DatasetInfo["sessions"]["edges"][number]["node"];

/** Feedback keys over every group and session, in a stable order. */
export function feedbackKeys(groups: readonly Group[]): string[] {
  const keys = new Set<string>();
  for (const g of groups) for (const s of g.sessions) for (const f of s.feedbackStats) if (f.avg !== null) keys.add(f.key);
  return [...keys].sort();
}

export function statOf(session: GroupSession | undefined, key: string) {
  return session?.feedbackStats.find((f) => f.key === key);
}

export type DeltaOf = NonNullable<GroupSession["deltas"]>["feedback"][number]["delta"];

/** The session's delta against the baseline on a feedback key, if the server gave one. */
export function feedbackDelta(session: GroupSession | undefined, key: string): DeltaOf | undefined {
  return session?.deltas?.feedback.find((f) => f.key === key)?.delta;
}
