/**
 * The scripts a probe really loads, remote ones included: V8's log of the
 * scripts it compiled (`--log-function-events`), in a fresh `deno run`.
 * `tests/_loaded_modules.ts` reads V8 coverage instead, which Deno writes
 * for local files only; this one also sees the modules of a `jsr:` or
 * `https:` import. Used by `bench/import_figures.ts`.
 */
import { type ProbeOptions, runProbe } from "../tests/_loaded_modules.ts";

/**
 * The URLs of every script compiled while running `source` (see
 * `runProbe`), the probe itself and the runtime's own left out: `ext:`, and
 * `node:` built-ins such as `node:timers`, which Deno compiles the first
 * time any program reads `globalThis.setTimeout` (the coverage count of
 * `tests/_loaded_modules.ts` leaves them out as well).
 */
export async function scriptsLoaded(
  source: string,
  options: ProbeOptions = {},
): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "scripts_loaded_" });
  try {
    const log = `${dir}/v8.log`;
    await runProbe(dir, source, {
      ...options,
      flags: [
        ...options.flags ?? [],
        `--v8-flags=--log-function-events,--logfile=${log},--no-logfile-per-isolate`,
      ],
    });
    const probe = new URL(`file://${dir}/probe.ts`).href;
    const found = new Set<string>();
    for (const line of (await Deno.readTextFile(log)).split("\n")) {
      // script-details,<id>,<url>,<line offset>,<column offset>,...
      if (!line.startsWith("script-details,")) continue;
      const url = line.split(",")[2];
      if (!url || url === probe || /^(ext|node):/.test(url)) continue;
      found.add(url);
    }
    return [...found].sort();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
