import { loadConfig } from '../../src/config.ts';

/**
 * The environment variables `loadConfig` reads, observed rather than listed: it runs on an
 * environment that records every name asked for. envalid itself also asks for NODE_ENV (for
 * development defaults, which the configuration does not use); that one is not the gateway's.
 */
export function configVariables(): Set<string> {
  const read = new Set<string>();
  const record = (name: string | symbol) => {
    if (typeof name === 'string') read.add(name);
  };
  const env = new Proxy({} as Record<string, string | undefined>, {
    get: (_target, name) => {
      record(name);
      return undefined;
    },
    has: (_target, name) => {
      record(name);
      return false;
    },
  });
  loadConfig(env);
  read.delete('NODE_ENV');
  return read;
}
