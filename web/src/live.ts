// Live updates over the GraphQL WebSocket (/graphql, graphql-transport-ws, the graphql-ws
// client): the comparison subscribes to `groupRunsChanged` and asks again only when the
// server says its answer changed. Where the socket is refused (a proxy without WebSocket),
// the page falls back to polling.
import { print } from "@0no-co/graphql.web";
import { createClient, type Client } from "graphql-ws";
import { useEffect, useState } from "preact/hooks";
import { storedKey } from "./api";
import type { VariablesOf } from "./graphql";
import { GroupsChangedSubscription } from "./queries";

let client: Client | null = null;

function liveClient(): Client {
  if (client === null) {
    client = createClient({
      url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`,
      connectionParams: () => ({ "X-API-Key": storedKey() ?? "" }),
      lazy: true, // connect with the first subscription, close after the last
      retryAttempts: 5,
    });
  }
  return client;
}

export type Liveness = "connecting" | "live" | "polling";

/** A counter that moves each time the comparison of `variables` changed (not on the event
 *  sent at subscribe), and whether the page is live or must poll. */
export function useGroupRunsChanged(
  variables: VariablesOf<typeof GroupsChangedSubscription> | null,
): [number, Liveness] {
  const [changes, setChanges] = useState(0);
  const [liveness, setLiveness] = useState<Liveness>("connecting");
  const text = variables === null ? null : JSON.stringify(variables);
  useEffect(() => {
    if (text === null) return;
    if (typeof WebSocket === "undefined") {
      setLiveness("polling");
      return;
    }
    let first = true;
    const stop = liveClient().subscribe(
      { query: print(GroupsChangedSubscription), variables: JSON.parse(text) },
      {
        next: () => {
          setLiveness("live");
          if (first) first = false;
          else setChanges((n) => n + 1);
        },
        error: () => setLiveness("polling"),
        complete: () => setLiveness("polling"),
      },
    );
    return stop;
  }, [text]);
  return [changes, liveness];
}
