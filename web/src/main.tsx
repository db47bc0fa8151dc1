import { render } from "preact";
import { useState } from "preact/hooks";
import { storedKey } from "./api";
import { Compare } from "./compare/Compare";
import { KeyForm } from "./KeyForm";
import { Landing } from "./Landing";
import "./style.css";

const COMPARE_PATH = /^\/o\/([^/]+)\/datasets\/([0-9a-fA-F-]{36})\/compare\/?$/;

function App() {
  const [key, setKey] = useState(storedKey());
  const [refused, setRefused] = useState<string | null>(null);
  if (!key || refused !== null) {
    return (
      <KeyForm
        message={refused}
        onKey={(k) => {
          setRefused(null);
          setKey(k);
        }}
      />
    );
  }
  const onRefused = (message: string) => setRefused(message);
  const compare = COMPARE_PATH.exec(location.pathname);
  if (compare) return <Compare key={key} datasetId={compare[2].toLowerCase()} onRefused={onRefused} />;
  if (location.pathname === "/" || location.pathname === "/ui/") return <Landing key={key} onRefused={onRefused} />;
  return (
    <main class="page">
      <h1>Not found</h1>
      <p>
        No page at <code>{location.pathname}</code>. <a href="/">All datasets</a>
      </p>
    </main>
  );
}

render(<App />, document.getElementById("app")!);
