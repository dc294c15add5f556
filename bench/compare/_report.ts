/** Shared shapes and formatting of the comparison's sections. */

/** One measurement's part of `bench/RESULTS.md`. */
export interface Section {
  /** The `##` heading. */
  title: string;
  /** Markdown under the heading: what was measured, how, then tables. */
  body: string;
}

/** A Markdown table; cells are used as given. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) =>
    `| ${
      cells.map((cell) => String(cell).replaceAll("|", "\\|")).join(" | ")
    } |`;
  return [
    line(headers),
    line(headers.map(() => "---")),
    ...rows.map(line),
  ].join("\n");
}

/** The value at quantile `p` of an ascending list (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(p * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/** The median of a list, not changed in place. */
export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}

/** `12 345 678` style, for counts and rates. */
export function whole(value: number): string {
  return Math.round(value).toLocaleString("en-US").replaceAll(",", " ");
}

/** A ratio such as `3.2×`, with more digits below 10. */
export function ratio(value: number): string {
  if (!Number.isFinite(value)) return "—";
  return `${value >= 10 ? value.toFixed(0) : value.toFixed(2)}×`;
}

/** The message of anything thrown, on one line. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].slice(0, 160);
}

/** Promise-based pause on the real clock. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
