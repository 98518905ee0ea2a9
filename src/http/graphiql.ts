/**
 * Serves the offline GraphiQL page (built by scripts/build-graphiql.ts) at the GraphQL endpoint
 * for browsers, and its assets under {@link GRAPHIQL_ASSET_PREFIX}. No network access needed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { sendStatic } from './static-reply.ts';

/** URL path under which the page's scripts, styles, workers and fonts are served. */
export const GRAPHIQL_ASSET_PREFIX = '/graphiql/';

/** Where `npm run build:graphiql` writes the page: `<repo>/dist/graphiql`. */
export const DEFAULT_GRAPHIQL_ASSETS_DIR = fileURLToPath(new URL('../../dist/graphiql', import.meta.url));

/** Handles a request if it is for the page or one of its assets; returns false to let GraphQL have it. */
export type GraphiQLHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Options of {@link createGraphiQLHandler}. */
export interface GraphiQLHandlerOptions {
  /** Path of the GraphQL endpoint, e.g. `/graphql`; the page is served there and told to use it. */
  endpoint: string;
  /** Directory of the built page. Default {@link DEFAULT_GRAPHIQL_ASSETS_DIR}; when missing, the page answers 503. */
  assetsDir?: string;
}

interface Asset {
  body: Buffer;
  contentType: string;
  cacheControl: string;
  /** Whether gzip pays off (text); fonts are compressed already. */
  compressible: boolean;
  /** Compressed on first request that accepts gzip: 7 MB of JS and CSS shrink to about 2 MB. */
  gzipped?: Buffer;
}

interface LoadedPage {
  html: Buffer;
  assets: ReadonlyMap<string, Asset>;
}

const CONTENT_TYPES: Readonly<Record<string, { type: string; compressible: boolean }>> = {
  '.js': { type: 'text/javascript; charset=utf-8', compressible: true },
  '.css': { type: 'text/css; charset=utf-8', compressible: true },
  '.map': { type: 'application/json; charset=utf-8', compressible: true },
  '.svg': { type: 'image/svg+xml', compressible: true },
  '.woff2': { type: 'font/woff2', compressible: false },
  '.woff': { type: 'font/woff', compressible: false },
  '.ttf': { type: 'font/ttf', compressible: false },
};

// esbuild's `[hash]` is 8 characters of upper-case base32; such names change whenever content does.
const HASHED_NAME = /-[A-Z0-9]{8}\.[a-z0-9.]+$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';
const META_ENDPOINT = /(<meta name="graphql-endpoint" content=")[^"]*(")/;
// The page may load and connect only to the gateway itself: a guard against CDN references
// sneaking in with an upgrade, and against script injection through schema descriptions.
// Monaco sets inline styles, and fonts and icons come as data: URLs.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
const NOT_BUILT = 'GraphiQL is not built: run `npm run build:graphiql` and reload.\n';

/**
 * Creates the GraphiQL handler. Files are read on first use and kept in memory (about 7 MB);
 * while the build is missing every page request re-checks, so building needs no restart.
 */
export function createGraphiQLHandler(options: GraphiQLHandlerOptions): GraphiQLHandler {
  const { endpoint } = options;
  if (!endpoint.startsWith('/')) {
    throw new TypeError(`GraphiQL endpoint must be an absolute path like "/graphql", got ${JSON.stringify(endpoint)}`);
  }
  const assetsDir = path.resolve(options.assetsDir ?? DEFAULT_GRAPHIQL_ASSETS_DIR);
  let page: LoadedPage | undefined;
  const loaded = (): LoadedPage | undefined => (page ??= loadPage(assetsDir, endpoint));

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = new URL(req.url ?? '/', 'http://localhost');

    if (url.pathname === endpoint) {
      // GraphQL-over-HTTP GETs carry `?query=`; clients that ask for JSON get GraphQL too.
      if (url.searchParams.has('query') || !prefersHtml(req.headers.accept)) return false;
      const current = loaded();
      if (!current) {
        sendStatic(req, res, 503, NOT_BUILT, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        return true;
      }
      sendStatic(req, res, 200, current.html, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
        'content-security-policy': CONTENT_SECURITY_POLICY,
      });
      return true;
    }

    if (!url.pathname.startsWith(GRAPHIQL_ASSET_PREFIX)) return false;
    const name = url.pathname.slice(GRAPHIQL_ASSET_PREFIX.length);
    // Lookups only hit the in-memory map, so nothing outside assetsDir is reachable;
    // traversal attempts still get a 400 rather than looking like a missing file.
    if (name.includes('..') || name.includes('\\') || name.includes('%')) {
      sendStatic(req, res, 400, 'Bad asset path\n', { 'content-type': 'text/plain; charset=utf-8' });
      return true;
    }
    const asset = loaded()?.assets.get(name);
    if (!asset) {
      sendStatic(req, res, 404, 'Not found\n', { 'content-type': 'text/plain; charset=utf-8' });
      return true;
    }
    const headers = { 'content-type': asset.contentType, 'cache-control': asset.cacheControl };
    if (!asset.compressible) {
      sendStatic(req, res, 200, asset.body, headers);
    } else if (acceptsGzip(req.headers['accept-encoding'])) {
      asset.gzipped ??= gzipSync(asset.body);
      sendStatic(req, res, 200, asset.gzipped, { ...headers, 'content-encoding': 'gzip', vary: 'accept-encoding' });
    } else {
      sendStatic(req, res, 200, asset.body, { ...headers, vary: 'accept-encoding' });
    }
    return true;
  };
}

/** Reads the built page into memory, or returns undefined when it has not been built. */
function loadPage(assetsDir: string, endpoint: string): LoadedPage | undefined {
  const indexFile = path.join(assetsDir, 'index.html');
  if (!existsSync(indexFile)) return undefined;
  const template = readFileSync(indexFile, 'utf8');
  if (!META_ENDPOINT.test(template)) {
    throw new Error(`${indexFile} has no <meta name="graphql-endpoint">; rebuild with \`npm run build:graphiql\``);
  }
  const html = Buffer.from(template.replace(META_ENDPOINT, `$1${escapeAttribute(endpoint)}$2`));

  const assets = new Map<string, Asset>();
  for (const entry of readdirSync(assetsDir, { withFileTypes: true })) {
    const kind = CONTENT_TYPES[path.extname(entry.name)];
    if (!entry.isFile() || !kind) continue;
    assets.set(entry.name, {
      body: readFileSync(path.join(assetsDir, entry.name)),
      contentType: kind.type,
      cacheControl: HASHED_NAME.test(entry.name) ? IMMUTABLE : 'no-cache',
      compressible: kind.compressible,
    });
  }
  return { html, assets };
}

/**
 * True when the client ranks `text/html` above JSON, as browsers do
 * (`text/html,…,*\/*;q=0.8`). A tie, such as curl's `*\/*` or a missing header, goes to GraphQL.
 */
function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = accept.split(',').map(parseMediaRange);
  const html = quality(ranges, 'text', 'html');
  const json = Math.max(quality(ranges, 'application', 'json'), quality(ranges, 'application', 'graphql-response+json'));
  return html > 0 && html > json;
}

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseMediaRange(part: string): MediaRange {
  const [mediaType = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
  const [type = '', subtype = ''] = mediaType.split('/');
  const qParam = params.find((p) => p.startsWith('q='));
  const q = qParam === undefined ? 1 : Number(qParam.slice(2));
  return { type, subtype, q: Number.isFinite(q) ? q : 0 };
}

/** Quality of a media type under the most specific matching range (RFC 9110 §12.5.1). */
function quality(ranges: readonly MediaRange[], type: string, subtype: string): number {
  const specificity = (r: MediaRange): number => {
    if (r.type === type) return r.subtype === subtype ? 3 : r.subtype === '*' ? 2 : 0;
    return r.type === '*' && r.subtype === '*' ? 1 : 0;
  };
  let best: MediaRange | undefined;
  for (const range of ranges) {
    if (specificity(range) > (best ? specificity(best) : 0)) best = range;
  }
  return best?.q ?? 0;
}

function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  return acceptEncoding.split(',').some((part) => {
    const [coding, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return coding === 'gzip' && (q === undefined || Number(q.slice(2)) > 0);
  });
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
