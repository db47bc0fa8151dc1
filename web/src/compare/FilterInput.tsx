import { useEffect, useState } from "preact/hooks";
import { ValidateFilterQuery } from "../queries";
import { useQuery } from "../useQuery";

const CHECK_AFTER_MS = 250; // let the user finish a word before asking the server

/** A filter string (spec §4), checked by the server's own parser as it is typed
 *  (`validateFilter`); Enter or "Apply" applies it once it is valid. */
export function FilterInput(props: {
  label: string;
  value: string;
  onApply: (text: string) => void;
  onRefused: (message: string) => void;
}) {
  const [draft, setDraft] = useState(props.value);
  const [checked, setChecked] = useState(props.value);
  useEffect(() => setDraft(props.value), [props.value]); // back/forward
  useEffect(() => {
    const timer = setTimeout(() => setChecked(draft.trim()), CHECK_AFTER_MS);
    return () => clearTimeout(timer);
  }, [draft]);
  const text = checked;
  const validation = useQuery(ValidateFilterQuery, text ? { filter: text } : null, props.onRefused);
  const result = text && validation.data?.validateFilter;
  const invalid = result && !result.ok ? result : null;
  const settled = text === draft.trim() && !validation.loading;
  const canApply = draft.trim() === "" || (settled && result && result.ok);
  const id = `f-${props.label.replace(/\W+/g, "-")}`;
  const apply = () => {
    if (canApply && draft.trim() !== props.value) props.onApply(draft.trim());
  };
  return (
    <div class="filter">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          apply();
        }}
      >
        <input
          id={id}
          class={invalid ? "invalid" : ""}
          aria-label={props.label}
          aria-invalid={invalid ? "true" : "false"}
          aria-describedby={`${id}-msg`}
          placeholder='e.g. eq(status, "success")'
          spellcheck={false}
          value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
        <button type="submit" disabled={!canApply || draft.trim() === props.value}>
          Apply
        </button>
      </form>
      <div id={`${id}-msg`} aria-live="polite">
        {invalid && (
          <div class="filter-error" role="alert">
            <span>{invalid.message}</span>
            {invalid.offset !== null && (
              <pre aria-hidden="true">
                {text}
                {"\n"}
                {" ".repeat(invalid.offset)}^
              </pre>
            )}
          </div>
        )}
        {props.value && draft.trim() === props.value && <span class="hint">applied</span>}
      </div>
    </div>
  );
}
