import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAnalyticsModel } from '../src/analytics/model.ts';
import { MODEL_SDL_FILE, modelSdl } from '../src/analytics/sdl.ts';

// `npm run model`: regenerates the analytics model's SDL (enums and row type) from src/analytics/model.yaml.
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(path.join(root, MODEL_SDL_FILE), modelSdl(loadAnalyticsModel()));
console.log(`wrote ${MODEL_SDL_FILE}`);
