import { num } from "../format";
import type { DeltaOf } from "./types";

/** A session's difference from the baseline, as the server computed it (paired by
 *  example): the mean delta, coloured only when its 95 % interval excludes 0; the
 *  interval, pairs, counts and the sign test's p-value in the tooltip. */
export function DeltaBadge({ delta, lowerIsBetter = false, format = num }: {
  delta: DeltaOf | null | undefined;
  lowerIsBetter?: boolean;
  format?: (value: number) => string;
}) {
  if (!delta) return null;
  const sure = delta.ciLow > 0 || delta.ciHigh < 0;
  const better = lowerIsBetter ? delta.meanDelta < 0 : delta.meanDelta > 0;
  const sign = delta.meanDelta > 0 ? "+" : "";
  const title =
    `vs baseline: ${sign}${delta.meanDelta} (95% interval ${delta.ciLow} to ${delta.ciHigh}, ${delta.ciMethod}, ` +
    `${delta.nPairs} examples paired); improved ${delta.improved}, regressed ${delta.regressed}, ` +
    `unchanged ${delta.unchanged}; sign test p = ${delta.pValue.toPrecision(3)}`;
  return (
    <span
      class={`delta${sure ? (better ? " up" : " down") : ""}`}
      title={title}
      data-delta={delta.meanDelta}
      data-ci={`${delta.ciLow},${delta.ciHigh}`}
      data-sure={sure ? "true" : "false"}
    >
      {" "}
      {sign}
      {format(delta.meanDelta)}
      {sure ? "" : "?"}
    </span>
  );
}
