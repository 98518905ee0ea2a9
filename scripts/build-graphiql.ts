/**
 * Bundles the offline GraphiQL page (web/graphiql) into dist/graphiql with esbuild: the page
 * script (code-split, so Monaco and prettier load on demand), its CSS, the three Monaco workers,
 * and index.html. Run by `npm run build:graphiql` and the root `prepare` script.
 */
import type { BuildResult, Metafile, Plugin } from 'esbuild';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_GRAPHIQL_ASSETS_DIR, GRAPHIQL_ASSET_PREFIX } from '../src/http/graphiql.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WEB_DIR = path.join(ROOT, 'web', 'graphiql');
const ENTRY = path.join(WEB_DIR, 'main.tsx');

/** Monaco workers by the key web/graphiql/workers.ts looks them up with. */
const WORKER_ENTRIES = {
  editor: 'monaco-editor/esm/vs/editor/editor.worker.js',
  json: 'monaco-editor/esm/vs/language/json/json.worker.js',
  graphql: 'monaco-graphql/esm/graphql.worker.js',
} as const;
type WorkerKey = keyof typeof WORKER_ENTRIES;

/**
 * Drops the CSS files Monaco's modules import one by one: `graphiql/style.css` already carries all
 * of Monaco's styles (codicon font inlined), and esbuild would otherwise emit them a second time,
 * partly as CSS for lazy chunks that nothing loads.
 */
const monacoCssFromGraphiql: Plugin = {
  name: 'monaco-css-from-graphiql',
  setup(build) {
    build.onLoad({ filter: /[\\/]monaco-editor[\\/]esm[\\/].*\.css$/ }, () => ({ contents: '', loader: 'empty' }));
  },
};

/**
 * Points `prettier/parser-graphql` and `prettier/parser-babel` at prettier's ESM plugins.
 * @graphiql/react's prettify imports them with `import()` and destructures `{ parsers }`, but they
 * are UMD files: a dynamic import gives them only a default export (as in Node), so Prettify
 * would fail with `Couldn't resolve parser "graphql"`. Vite hides this; esbuild does not.
 */
const prettierParsersAsEsm: Plugin = {
  name: 'prettier-parsers-as-esm',
  setup(build) {
    build.onResolve({ filter: /^prettier\/parser-(graphql|babel)$/ }, (args) =>
      build.resolve(args.path.replace('/parser-', '/plugins/'), { kind: args.kind, resolveDir: args.resolveDir }),
    );
  },
};

const COMMON = {
  absWorkingDir: ROOT,
  bundle: true,
  minify: true,
  platform: 'browser',
  target: 'es2022',
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  define: { 'process.env.NODE_ENV': '"production"' },
  // Fonts are mostly inlined by graphiql's CSS already; any others are emitted as files.
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
  metafile: true,
  logLevel: 'warning',
} as const;

/**
 * Builds the page into `outDir` (default dist/graphiql), replacing its previous contents
 * atomically enough that a running gateway never sees a half-written directory.
 * Rejects with esbuild's errors (already printed) when the bundle cannot be built.
 */
export async function buildGraphiQL(outDir: string = DEFAULT_GRAPHIQL_ASSETS_DIR): Promise<void> {
  // Imported here, not at the top, so a missing devDependency ends in the CLI's one-line message.
  const esbuild = await import('esbuild');
  const target = path.resolve(outDir);
  const staging = `${target}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  try {
    const workers = await esbuild.build({
      ...COMMON,
      // Classic scripts, so `new Worker(url)` works in every browser Monaco supports.
      format: 'iife',
      entryPoints: Object.fromEntries(
        Object.entries(WORKER_ENTRIES).map(([key, entry]) => [`${key}.worker`, entry]),
      ),
      outdir: staging,
    });
    const workerFiles = Object.fromEntries(
      (Object.keys(WORKER_ENTRIES) as WorkerKey[]).map((key) => [key, outputFor(workers, `${key}.worker`)]),
    );

    const page = await esbuild.build({
      ...COMMON,
      format: 'esm',
      splitting: true,
      jsx: 'automatic',
      entryPoints: { main: ENTRY },
      outdir: staging,
      plugins: [monacoCssFromGraphiql, prettierParsersAsEsm],
      define: { ...COMMON.define, GRAPHIQL_WORKER_FILES: JSON.stringify(workerFiles) },
    });
    const mainJs = outputFor(page, 'main');
    const mainCss = cssBundleOf(page.metafile, mainJs);

    const template = await readFile(path.join(WEB_DIR, 'index.html'), 'utf8');
    const html = template
      .replace('%MAIN_JS%', GRAPHIQL_ASSET_PREFIX + mainJs)
      .replace('%MAIN_CSS%', GRAPHIQL_ASSET_PREFIX + mainCss);
    await writeFile(path.join(staging, 'index.html'), html);

    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/** File name (relative to outdir) of the JS output built from the entry point named `name`. */
function outputFor(result: BuildResult<{ metafile: true }>, name: string): string {
  const file = Object.keys(result.metafile.outputs).find(
    (output) => output.endsWith('.js') && path.basename(output).startsWith(`${name}-`) && result.metafile.outputs[output]?.entryPoint,
  );
  if (!file) throw new Error(`esbuild produced no output for entry "${name}"`);
  return path.basename(file);
}

function cssBundleOf(metafile: Metafile, jsFile: string): string {
  const entry = Object.entries(metafile.outputs).find(([output]) => path.basename(output) === jsFile)?.[1];
  if (!entry?.cssBundle) throw new Error(`esbuild produced no CSS bundle for ${jsFile}`);
  return path.basename(entry.cssBundle);
}

/** One line for the CLI; esbuild has already printed its own errors with file and line. */
function failureReason(error: unknown): string {
  if (error instanceof Error && 'errors' in error && Array.isArray(error.errors)) {
    return `esbuild reported ${error.errors.length} error(s), see above; the previous build, if any, is unchanged`;
  }
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error);
}

async function directorySize(dir: string): Promise<{ files: number; bytes: number }> {
  const names = await readdir(dir);
  const sizes = await Promise.all(names.map(async (name) => (await stat(path.join(dir, name))).size));
  return { files: names.length, bytes: sizes.reduce((a, b) => a + b, 0) };
}

if (import.meta.main) {
  const started = performance.now();
  try {
    await buildGraphiQL();
    const { files, bytes } = await directorySize(DEFAULT_GRAPHIQL_ASSETS_DIR);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `build-graphiql: ${path.relative(ROOT, DEFAULT_GRAPHIQL_ASSETS_DIR)}: ${files} files, ${(bytes / 1024 / 1024).toFixed(1)} MB in ${seconds}s`,
    );
  } catch (error) {
    console.error(`build-graphiql: failed: ${failureReason(error)}`);
    process.exitCode = 1;
  }
}
