/**
 * The REST API's docs page: Swagger UI from the installed `swagger-ui-dist` package, reading the
 * generated OpenAPI document. Served offline (no CDN), under a policy that lets the page load and
 * call nothing but the gateway.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { sendStatic } from '../static-reply.ts';

/** Where the page is served; its assets live under `/docs/`. */
export const DOCS_PATH = '/docs';

/** Options of {@link createSwaggerUiHandler}. */
export interface SwaggerUiOptions {
  /** Path of the OpenAPI document the page shows, e.g. `/openapi.json`. */
  specUrl: string;
}

/** Answers a request for the page or one of its assets; false when `pathname` is neither. */
export type SwaggerUiHandler = (req: IncomingMessage, res: ServerResponse, pathname: string) => boolean;

// Swagger UI sets inline styles and shows data: images; scripts come only from the gateway (the
// initializer is a file, not an inline script), and "Try it out" calls only the gateway.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The package's files the page uses, with their types. */
const PACKAGE_ASSETS: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

interface Asset {
  body: Buffer;
  contentType: string;
}

/** Creates the handler; the package's files are read on first use and kept in memory (about 2 MB). */
export function createSwaggerUiHandler(options: SwaggerUiOptions): SwaggerUiHandler {
  let assets: ReadonlyMap<string, Asset> | undefined;
  const loaded = (): ReadonlyMap<string, Asset> => (assets ??= loadAssets(options.specUrl));

  return (req, res, pathname) => {
    if (pathname !== DOCS_PATH && !pathname.startsWith(`${DOCS_PATH}/`)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendStatic(req, res, 405, Buffer.from('Method Not Allowed\n'), { 'content-type': 'text/plain; charset=utf-8', allow: 'GET, HEAD' });
      return true;
    }
    // `/docs/` too: the page's relative asset URLs resolve under /docs/ either way.
    const name = pathname === DOCS_PATH || pathname === `${DOCS_PATH}/` ? 'index.html' : pathname.slice(DOCS_PATH.length + 1);
    const asset = loaded().get(name);
    if (!asset) {
      sendStatic(req, res, 404, Buffer.from('Not found\n'), { 'content-type': 'text/plain; charset=utf-8' });
      return true;
    }
    sendStatic(req, res, 200, asset.body, {
      'content-type': asset.contentType,
      'cache-control': 'no-cache',
      ...(name === 'index.html' ? { 'content-security-policy': CONTENT_SECURITY_POLICY } : {}),
    });
    return true;
  };
}

function loadAssets(specUrl: string): ReadonlyMap<string, Asset> {
  const dir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const assets = new Map<string, Asset>();
  for (const [name, contentType] of Object.entries(PACKAGE_ASSETS)) {
    assets.set(name, { body: readFileSync(path.join(dir, name)), contentType });
  }
  const page = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Nexus Gateway REST API</title>
    <link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css">
    <link rel="icon" type="image/png" href="${DOCS_PATH}/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="${DOCS_PATH}/favicon-16x16.png" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
    <script src="${DOCS_PATH}/init.js"></script>
  </body>
</html>
`;
  assets.set('index.html', { body: Buffer.from(page), contentType: 'text/html; charset=utf-8' });
  const init = `window.ui = SwaggerUIBundle(${JSON.stringify({ url: specUrl, dom_id: '#swagger-ui', deepLinking: true })});\n`;
  assets.set('init.js', { body: Buffer.from(init), contentType: 'text/javascript; charset=utf-8' });
  return assets;
}
