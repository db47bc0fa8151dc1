import type { View } from "../view";
import { downloadCsv, downloadJson, groupsCsv } from "./exporting";
import type { Group } from "./types";

export function ExportButtons(props: {
  datasetName: string;
  view: View;
  groupBy: string;
  metadataKey: string | null;
  groups: readonly Group[];
  names: Map<string, string>;
}) {
  const base = `${props.datasetName}-groups`;
  return (
    <span class="exports">
      <button type="button" onClick={() => downloadCsv(`${base}.csv`, groupsCsv(props.groups))}>
        Groups CSV
      </button>
      <button
        type="button"
        onClick={() =>
          downloadJson(`${base}.json`, {
            dataset: props.datasetName,
            sessions: props.view.sessions.map((id) => ({ id, name: props.names.get(id) ?? null })),
            baseline: props.view.baseline,
            groupBy: props.groupBy,
            metadataKey: props.metadataKey,
            filters: props.view.filters,
            groups: props.groups,
          })
        }
      >
        Groups JSON
      </button>
    </span>
  );
}
