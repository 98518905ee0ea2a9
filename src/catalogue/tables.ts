/** The lakehouse tables of the catalogue: what the replica holds and the tour search index is built from. */
export const CATALOGUE_TABLES = ['silver.tours', 'silver.destinations'] as const;
export type CatalogueTable = (typeof CATALOGUE_TABLES)[number];
