// Time ranges of the pickers: seconds back from now (null: all time).
export const RANGES = { "15m": 900, "1h": 3600, "24h": 86400, "7d": 604800, all: null };

/** {from} for a named range, as ISO; empty for all time. */
export function rangeParams(range) {
  const span = RANGES[range];
  return span ? { from: new Date(Date.now() - span * 1000).toISOString() } : {};
}

/** A datetime-local value (taken as UTC, like every time in the console) as ISO. */
export function localInputToIso(value) {
  return value ? `${value.length === 16 ? `${value}:00` : value}Z` : "";
}
