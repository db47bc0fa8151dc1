import { useState } from "preact/hooks";
import { storeKey } from "./api";

/** Asked once; the key stays in this browser (localStorage) until it is refused. */
export function KeyForm({ message, onKey }: { message: string | null; onKey: (key: string) => void }) {
  const [value, setValue] = useState("");
  return (
    <main class="page narrow">
      <h1>evalql</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const key = value.trim();
          if (!key) return;
          storeKey(key);
          onKey(key);
        }}
      >
        <label for="api-key">API key</label>
        <p class="hint" id="api-key-hint">
          A read-only key is enough. <code>make serve</code> prints one on its first start;{" "}
          <code>evalql keys create --read-only</code> makes another. It is kept in this browser only.
        </p>
        {message && (
          <p class="error" role="alert">
            {message}
          </p>
        )}
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          autoFocus
          aria-describedby="api-key-hint"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
        <button type="submit">Continue</button>
      </form>
    </main>
  );
}
