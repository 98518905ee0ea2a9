/**
 * Monaco editor workers for the offline GraphiQL page.
 *
 * graphiql 5 ships recipes for Vite, webpack and esm.sh only (`graphiql/setup-workers/*`); the
 * esm.sh one fetches from a CDN, which analysts without internet cannot reach. We build the same
 * three workers as separate classic-script bundles (scripts/build-graphiql.ts) and point Monaco
 * at them, mirroring the label switch of `@graphiql/react/setup-workers/vite`.
 */

/** Hashed worker file names, injected at build time by esbuild `define`. */
declare const GRAPHIQL_WORKER_FILES: { editor: string; json: string; graphql: string };

/** The part of Monaco's `Environment` we provide; typed locally to avoid a direct monaco dependency. */
interface MonacoEnvironment {
  getWorker(workerId: string, label: string): Worker;
}

/** Starts the worker built for a language label: `graphql` (query editor), `json` (variables, headers, response), anything else the base editor worker. */
function workerFor(label: string): Worker {
  const file =
    label === 'graphql'
      ? GRAPHIQL_WORKER_FILES.graphql
      : label === 'json'
        ? GRAPHIQL_WORKER_FILES.json
        : GRAPHIQL_WORKER_FILES.editor;
  // Resolved against this chunk's URL, so the page works under whatever prefix serves the assets.
  return new Worker(new URL(`./${file}`, import.meta.url), { name: label });
}

(globalThis as { MonacoEnvironment?: MonacoEnvironment }).MonacoEnvironment = {
  getWorker: (_workerId, label) => workerFor(label),
};
