/**
 * Filters take days in the reader's time zone; the site compares instants.
 * A "from" day starts at local midnight, a "to" day ends just before the next.
 */
export function dayStartIso(day: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  return new Date(`${day}T00:00:00`).toISOString();
}

export function dayEndIso(day: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  return new Date(`${day}T23:59:59.999`).toISOString();
}

/** A query value as one string (the router may hand an array or null). */
export function queryText(value: unknown): string {
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : '';
}
