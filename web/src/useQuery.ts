import type { TadaDocumentNode } from "gql.tada";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, request, storeKey } from "./api";

export interface QueryState<R> {
  data: R | null;
  error: string | null;
  loading: boolean;
  refetch: () => void;
}

/** Runs `doc` whenever `variables` change (by value) and every `pollMs` while the
 *  tab is visible. A poll that brings the same answer changes nothing on the page. */
export function useQuery<R, V>(
  doc: TadaDocumentNode<R, V>,
  variables: V | null, // null: don't run yet
  onRefused: (message: string) => void,
  pollMs = 0,
  refresh = 0, // a change of this value asks again (a live update said the answer changed)
): QueryState<R> {
  const [state, setState] = useState<{ data: R | null; error: string | null; loading: boolean; text: string }>({
    data: null,
    error: null,
    loading: variables !== null,
    text: "",
  });
  const [tick, setTick] = useState(0);
  const varsText = variables === null ? null : JSON.stringify(variables);
  const lastVars = useRef<string | null>(null);

  useEffect(() => {
    if (varsText === null) return;
    const controller = new AbortController();
    const fresh = lastVars.current !== varsText;
    lastVars.current = varsText;
    if (fresh) setState((s) => ({ ...s, loading: true, error: null }));
    request(doc, JSON.parse(varsText) as V, controller.signal).then(
      (data) => {
        const text = JSON.stringify(data);
        setState((s) => (s.text === text && !s.loading && !s.error ? s : { data, error: null, loading: false, text }));
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        if (err instanceof ApiError && err.unauthenticated) {
          storeKey(null);
          onRefused(err.message);
          return;
        }
        const message = err instanceof Error ? err.message : String(err);
        setState((s) => ({ ...s, data: fresh ? null : s.data, error: message, loading: false }));
      },
    );
    return () => controller.abort();
  }, [doc, varsText, tick, refresh]);

  useEffect(() => {
    if (!pollMs || varsText === null) return;
    const timer = setInterval(() => {
      if (document.visibilityState !== "hidden") setTick((t) => t + 1);
    }, pollMs);
    return () => clearInterval(timer);
  }, [pollMs, varsText]);

  return { data: state.data, error: state.error, loading: state.loading, refetch: () => setTick((t) => t + 1) };
}
