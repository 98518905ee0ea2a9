import { loadAnalyticsModel } from './model.ts';

/** The repository's analytics model, read and checked once when the gateway starts (a bad entry stops start-up, named). */
export const analyticsModel = loadAnalyticsModel();
