// The comparison's state lives in the URL, so a link reproduces the view and the
// browser's back/forward move between views. `selectedSessions` is the SDK's own
// parameter (the link `evaluate()` prints); the rest are ours.
import { useEffect, useState } from "preact/hooks";

export type GroupBy = "RUN_METADATA" | "EXAMPLE_METADATA";

export interface View {
  sessions: string[]; // in the order chosen; the baseline is one of them
  baseline: string | null;
  groupBy: GroupBy | null; // null: the page picks (grouping.ts)
  key: string | null; // metadata key; null: the page picks the most common
  filters: Record<string, string>; // session id -> filter string (spec §4)
  group: string | null; // the group whose examples are listed (group key as text)
  page: number; // page of that group's examples, from 0
  groupPage: number; // page of groups (GROUPS_PER_PAGE each), from 0
}

const FILTER_PREFIX = "filter.";

export function parseView(search: string): View {
  const params = new URLSearchParams(search);
  const sessions = (params.get("selectedSessions") ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s, i, all) => s !== "" && all.indexOf(s) === i);
  const filters: Record<string, string> = {};
  params.forEach((value, name) => {
    if (name.startsWith(FILTER_PREFIX) && value !== "") filters[name.slice(FILTER_PREFIX.length).toLowerCase()] = value;
  });
  const baseline = params.get("baseline")?.toLowerCase() ?? null;
  const page = pageNumber(params.get("page"));
  return {
    sessions,
    baseline: baseline && sessions.includes(baseline) ? baseline : (sessions[0] ?? null),
    groupBy: params.get("groupBy") === "example" ? "EXAMPLE_METADATA" : params.get("groupBy") === "run" ? "RUN_METADATA" : null,
    key: params.get("key") || null,
    filters,
    group: params.get("group"),
    page,
    groupPage: pageNumber(params.get("groups")),
  };
}

function pageNumber(text: string | null): number {
  const n = Number.parseInt(text ?? "0", 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export function viewSearch(view: View): string {
  const params = new URLSearchParams();
  if (view.sessions.length) params.set("selectedSessions", view.sessions.join(","));
  if (view.baseline && view.baseline !== view.sessions[0]) params.set("baseline", view.baseline);
  if (view.groupBy !== null) params.set("groupBy", view.groupBy === "EXAMPLE_METADATA" ? "example" : "run");
  if (view.key) params.set("key", view.key);
  for (const s of view.sessions) if (view.filters[s]) params.set(FILTER_PREFIX + s, view.filters[s]);
  if (view.group !== null) params.set("group", view.group);
  if (view.page > 0) params.set("page", String(view.page));
  if (view.groupPage > 0) params.set("groups", String(view.groupPage));
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** The view of the current URL, and a way to move to another (a new history entry). */
export function useView(): [View, (next: View, replace?: boolean) => void] {
  const [view, setView] = useState(() => parseView(location.search));
  useEffect(() => {
    const onPop = () => setView(parseView(location.search));
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const go = (next: View, replace = false) => {
    const url = location.pathname + viewSearch(next);
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    setView(next);
  };
  return [view, go];
}
