import { LandingQuery } from "./queries";
import { useQuery } from "./useQuery";

/** The datasets of the key's workspace, each with its experiments and a link to compare them. */
export function Landing({ onRefused }: { onRefused: (message: string) => void }) {
  const { data, error, loading } = useQuery(LandingQuery, {}, onRefused);
  const workspace = data?.viewer.workspaceId;
  return (
    <main class="page">
      <header class="top">
        <h1>evalql</h1>
        <nav>
          <a href="/graphql">GraphiQL</a> · <a href="/docs">REST reference</a>
        </nav>
      </header>
      <h2>Datasets</h2>
      {loading && <p aria-busy="true">Loading…</p>}
      {error && <p class="error" role="alert">{error}</p>}
      {data && data.datasets.edges.length === 0 && (
        <p>No datasets in this workspace yet. Create one with the LangSmith SDK (see the README).</p>
      )}
      {data && (
        <ul class="datasets">
          {data.datasets.edges.map(({ node }) => {
            const sessions = node.sessions.edges.map((e) => e.node);
            const chosen = sessions.slice(-4).map((s) => s.id); // the newest experiments
            const href = `/o/${workspace}/datasets/${node.id}/compare?selectedSessions=${chosen.join(",")}`;
            return (
              <li key={node.id} class="dataset">
                <h3>
                  <a href={href}>{node.name}</a>
                </h3>
                {node.description && <p class="hint">{node.description}</p>}
                <p class="hint">
                  {node.exampleCount} examples · {node.sessionCount} experiments
                </p>
                {sessions.length > 0 && (
                  <ul class="sessions">
                    {sessions.map((s) => (
                      <li key={s.id}>
                        <a href={`/o/${workspace}/datasets/${node.id}/compare?selectedSessions=${s.id}`}>{s.name}</a>{" "}
                        <span class="hint">{new Date(s.startTime).toLocaleString()}</span>
                      </li>
                    ))}
                  </ul>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </main>
  );
}
