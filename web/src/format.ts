// Numbers rounded for people; the exact value goes in a tooltip (title).

export function exact(value: number | string | null | undefined): string {
  return value === null || value === undefined ? "" : String(value);
}

export function num(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined) return "–";
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: Math.min(digits, 2) });
}

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`;
}

export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  return value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(2)} s`;
}

export function cost(value: string | null | undefined): string {
  if (value === null || value === undefined) return "–";
  const n = Number(value);
  return n === 0 ? "$0" : n < 0.01 ? `$${n.toPrecision(2)}` : `$${n.toFixed(2)}`;
}

/** A JSON value as a person reads it: a lone string as itself, else compact JSON. */
export function text(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1 && typeof entries[0][1] === "string") return entries[0][1] as string;
  }
  return JSON.stringify(value, null, 1);
}

export function groupKeyText(key: string | number): string {
  return String(key);
}
