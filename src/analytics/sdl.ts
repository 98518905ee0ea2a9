import { enumValueOf, GRANULARITIES, type AnalyticsModel } from './model.ts';

/** Where the generated SDL is checked in (codegen reads `schema/*.graphql`). */
export const MODEL_SDL_FILE = 'schema/analytics-model.graphql';

/**
 * The schema part generated from the model: one enum per kind of member (so GraphiQL completes
 * them and clients' codegen types them), the union `AnalyticsMember`, the granularities, and
 * `AnalyticsRow` with one nullable field per measure and dimension.
 */
export function modelSdl(model: AnalyticsModel): string {
  const doc = (text: string | undefined, indent = '  '): string => (text ? `${indent}${JSON.stringify(text)}\n` : '');
  const values = (members: readonly { name: string; description: string | undefined; role: string }[]): string =>
    members.map((m) => `${doc(m.role === 'app' ? m.description : `${m.description ?? m.name} Requires the ${m.role} role.`)}  ${enumValueOf(m.name)}\n`).join('');
  const granularities = new Set(model.timeDimensions.flatMap((t) => t.granularities));
  return `# Generated from src/analytics/model.yaml by \`npm run model\`: do not edit by hand.

"What \`Query.analytics\` can aggregate."
enum AnalyticsMeasure {
${values(model.measures)}}

"What \`Query.analytics\` can group by."
enum AnalyticsDimension {
${values(model.dimensions)}}

"Timestamps \`Query.analytics\` can bucket by."
enum AnalyticsTimeDimension {
${values(model.timeDimensions)}}

"Any member of the analytics model (filters and ordering)."
enum AnalyticsMember {
${values([...model.measures, ...model.dimensions, ...model.timeDimensions])}}

"Size of a time bucket; buckets start at UTC midnight, weeks on Monday."
enum TimeGranularity {
${GRANULARITIES.filter((g) => granularities.has(g)).map((g) => `  ${g.toUpperCase()}\n`).join('')}}

"One row of an analytics answer: the members the question asked for are set, the others null."
type AnalyticsRow @auth(requires: APP) {
  "Start of the time bucket (UTC), when the question has a time dimension."
  time: DateTime
${model.measures.map((m) => `${doc(m.description)}  ${m.name}: Float\n`).join('')}${model.dimensions.map((d) => `${doc(d.description)}  ${d.name}: String\n`).join('')}}
`;
}
