/** IANA time-zone arithmetic shared by the adapters that read zoned wall-clock values (Trino, ClickHouse). */

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * Offset of `zone` from UTC at `instantMs`, in ms (e.g. +7 h for Asia/Ho_Chi_Minh). Throws a
 * RangeError for a zone the runtime does not know.
 */
export function zoneOffsetMs(zone: string, instantMs: number): number {
  let format = zoneFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    zoneFormats.set(zone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(new Date(instantMs))) parts[part.type] = Number(part.value);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0–99 to 1900–1999.
  const local = new Date(0);
  local.setUTCFullYear(parts['year'] ?? 1970, (parts['month'] ?? 1) - 1, parts['day'] ?? 1);
  local.setUTCHours(parts['hour'] ?? 0, parts['minute'] ?? 0, parts['second'] ?? 0, 0);
  return local.getTime() - (instantMs - (((instantMs % 1000) + 1000) % 1000));
}
