import type { RecommendationRow } from '../../domain.ts';
import { placeholders, type QueryOptions, type SqlEngine } from '../sql/port.ts';

/**
 * Ranks tours for users from the gold features the medallion keeps (`gold.recommendation_features`:
 * the regions and categories a user engaged with, bookings weighing most, their tours booked
 * and their price band; `gold.tourism_analytics`: each tour's bookings and rating). Tours a user
 * already booked are excluded; a user without activity gets the popular tours of their home
 * region. Three statements for any number of users.
 */
export async function recommendTours(
  engine: SqlEngine,
  userIds: readonly string[],
  first: number,
  options?: QueryOptions,
): Promise<Map<string, RecommendationRow[]>> {
  const [features, users, tours] = await Promise.all([
    engine.query(
      `SELECT user_id, feature, feature_value, weight FROM gold.recommendation_features WHERE user_id IN (${placeholders(userIds.length)})`,
      userIds,
      options,
    ),
    engine.query(`SELECT user_id, home_region FROM silver.users WHERE user_id IN (${placeholders(userIds.length)})`, userIds, options),
    engine.query(
      `SELECT t.tour_id, t.name, t.region, t.category, t.price, t.rating, coalesce(a.bookings, 0) AS bookings
       FROM silver.tours t LEFT JOIN gold.tourism_analytics a ON a.tour_id = t.tour_id`,
      [],
      options,
    ),
  ]);

  const maxBookings = Math.max(1, ...tours.map((t) => Number(t['bookings'])));
  const homeRegion = new Map(users.map((u) => [String(u['user_id']), String(u['home_region'])]));
  const result = new Map<string, RecommendationRow[]>();

  for (const userId of userIds) {
    const regions = new Map<string, number>();
    const categories = new Map<string, number>();
    const booked = new Set<string>();
    let usualSpend: number | null = null;
    for (const row of features) {
      if (row['user_id'] !== userId) continue;
      const value = String(row['feature_value']);
      const weight = Number(row['weight']);
      if (row['feature'] === 'region') regions.set(value, weight);
      else if (row['feature'] === 'category') categories.set(value, weight);
      else if (row['feature'] === 'booked_tour') booked.add(value);
      else if (row['feature'] === 'price_band') usualSpend = weight;
    }
    const regionTotal = sum(regions);
    const categoryTotal = sum(categories);
    const home = homeRegion.get(userId);
    const topRegion = top(regions);
    const topCategory = top(categories);

    const ranked = tours
      .filter((t) => !booked.has(String(t['tour_id'])))
      .map((t) => {
        const region = String(t['region']);
        const category = String(t['category']);
        const price = Number(t['price']);
        const popularity = Number(t['bookings']) / maxBookings;
        const rating = Number(t['rating'] ?? 0) / 5;
        const regionAffinity = regionTotal > 0 ? (regions.get(region) ?? 0) / regionTotal : region === home ? 1 : 0;
        const categoryAffinity = categoryTotal > 0 ? (categories.get(category) ?? 0) / categoryTotal : 0;
        const priceFit = usualSpend === null ? 0 : Math.max(0, 1 - Math.abs(price - usualSpend) / Math.max(usualSpend, price));
        const score = 0.35 * regionAffinity + 0.25 * categoryAffinity + 0.2 * popularity + 0.1 * rating + 0.1 * priceFit;
        return { t, region, category, score, regionAffinity, categoryAffinity };
      })
      .sort((a, b) => b.score - a.score || String(a.t['tour_id']).localeCompare(String(b.t['tour_id'])))
      .slice(0, first);

    result.set(
      userId,
      ranked.map(({ t, region, category, score, regionAffinity, categoryAffinity }) => ({
        tourId: String(t['tour_id']),
        score: Math.round(score * 1000) / 1000,
        reason: reasonFor({ region, category, regionAffinity, categoryAffinity, topRegion, topCategory, home, active: regionTotal > 0 }),
      })),
    );
  }
  return result;
}

function sum(map: Map<string, number>): number {
  let total = 0;
  for (const value of map.values()) total += Math.max(0, value);
  return total;
}

function top(map: Map<string, number>): string | undefined {
  let best: string | undefined;
  let bestValue = 0;
  for (const [key, value] of map) {
    if (value > bestValue) {
      best = key;
      bestValue = value;
    }
  }
  return best;
}

function reasonFor(args: {
  region: string;
  category: string;
  regionAffinity: number;
  categoryAffinity: number;
  topRegion: string | undefined;
  topCategory: string | undefined;
  home: string | undefined;
  active: boolean;
}): string {
  if (!args.active) {
    return args.region === args.home ? `Popular with travellers in your home region (${args.region}).` : 'Popular and highly rated right now.';
  }
  if (args.region === args.topRegion && args.category === args.topCategory) {
    return `A ${args.category} tour in ${args.region}, the region and kind of tour you engage with most.`;
  }
  if (args.region === args.topRegion) return `You often explore ${args.region}; this is one of its popular tours.`;
  if (args.category === args.topCategory) return `You like ${args.category} tours; this one is well rated.`;
  if (args.regionAffinity > 0 || args.categoryAffinity > 0) return `Similar to tours you viewed in ${args.region}.`;
  return 'Popular and highly rated right now.';
}
