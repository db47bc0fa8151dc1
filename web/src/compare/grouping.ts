// What the comparison is grouped by when the link does not say.
import type { GroupBy } from "../view";

interface Key {
  key: string;
  distinctValues: number;
}

// Run metadata the LangSmith SDK adds to every run of evaluate(): the same for all
// experiments (or one value per example), so grouping by it compares nothing.
const SDK_KEYS = new Set(["LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT", "revision_id", "num_repetitions", "example_version"]);

const SPLIT_KEY = "dataset_split";

export function sdkKey(key: string): boolean {
  return SDK_KEYS.has(key) || key.startsWith("ls_") || key.startsWith("__");
}

/** Example metadata first: every experiment ran the same examples, so its groups hold
 *  all of them side by side (run metadata such as `model` often differs per experiment,
 *  which would put each in a group of its own). */
export function defaultGroupBy(exampleKeys: readonly Key[]): GroupBy {
  return exampleKeys.length ? "EXAMPLE_METADATA" : "RUN_METADATA";
}

/** Of example metadata, the most common key (the server lists them so) with more than one
 *  value, the split the SDK mirrors into metadata (`dataset_split`) last; else the most
 *  common (one group: the whole comparison). Of run metadata, the most common key the
 *  SDK does not add itself. */
export function defaultKey(groupBy: GroupBy, exampleKeys: readonly Key[], runKeys: readonly Key[]): string | null {
  const found =
    groupBy === "EXAMPLE_METADATA"
      ? (exampleKeys.find((k) => k.distinctValues > 1 && k.key !== SPLIT_KEY) ??
        exampleKeys.find((k) => k.distinctValues > 1) ??
        exampleKeys[0])
      : (runKeys.find((k) => !sdkKey(k.key)) ?? runKeys[0]);
  return found?.key ?? null;
}
