import type { GroupBy, View } from "../view";

interface Key {
  key: string;
  count: number;
  distinctValues: number;
}

/** Group by run or example metadata, with the keys that exist (and how often). */
export function GroupingPicker(props: {
  groupBy: GroupBy;
  keyName: string | null;
  runKeys: readonly Key[];
  exampleKeys: readonly Key[];
  onChange: (patch: Partial<View>) => void;
}) {
  const { groupBy, keyName, onChange } = props;
  const keys = groupBy === "RUN_METADATA" ? props.runKeys : props.exampleKeys;
  const listed = keyName && !keys.some((k) => k.key === keyName) ? [{ key: keyName, count: 0, distinctValues: 0 }, ...keys] : keys;
  return (
    <section aria-labelledby="grouping-title" class="panel grouping">
      <h2 id="grouping-title">Group by</h2>
      <label for="group-by">Metadata of</label>{" "}
      <select
          id="group-by"
          value={groupBy}
          onChange={(e) => onChange({ groupBy: e.currentTarget.value as GroupBy, key: null, group: null })}
        >
          <option value="RUN_METADATA">runs ({props.runKeys.length} keys)</option>
          <option value="EXAMPLE_METADATA">examples ({props.exampleKeys.length} keys)</option>
        </select>{" "}
      <label for="group-key">Key</label>{" "}
      <select
          id="group-key"
          value={keyName ?? ""}
          disabled={listed.length === 0}
          onChange={(e) => onChange({ key: e.currentTarget.value, group: null })}
        >
          {listed.map((k) => (
            <option key={k.key} value={k.key}>
              {k.key} ({k.count} {groupBy === "RUN_METADATA" ? "runs" : "examples"}, {k.distinctValues} values)
            </option>
          ))}
        </select>
    </section>
  );
}
