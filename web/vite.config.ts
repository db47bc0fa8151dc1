import { defineConfig } from "vite";

// The page is served by evalql under /ui/ (evalql/web.py); index.html is answered for
// every page path, so its asset links must be absolute.
export default defineConfig({
  base: "/ui/",
  // JSX is Preact's: Vite's transformer takes `jsx`/`jsxImportSource` from tsconfig.json.
  build: {
    outDir: "../evalql/static/web",
    emptyOutDir: true,
    // No source maps: only devtools ask for them, and they would double the install.
    sourcemap: false,
    target: "es2022",
    reportCompressedSize: false,
  },
});
