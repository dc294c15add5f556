/**
 * Which modules a program really loads: it runs in a fresh `deno run` with
 * V8 coverage on, and every script V8 compiled is named in the coverage
 * files. Unlike `deno info` (the static graph, type-only imports included,
 * dynamic ones counted as if always taken) this is what the process paid
 * for. Used by `tests/import_cost_test.ts` and `bench/import_figures.ts`.
 */

const ROOT = new URL("../", import.meta.url);

/** The repository's root as a file URL, ending in `/`. */
export const ROOT_URL: string = ROOT.href;

/** How {@linkcode runProbe} runs a probe. */
export interface ProbeOptions {
  /** More `deno run` flags (all permissions are granted). */
  flags?: string[];
  /** Added to the probe's environment. */
  env?: Record<string, string>;
  /**
   * `false`: run as a user's program without a deno.json would, in `dir`
   * and with `--no-config` (no import map, no lockfile to touch).
   */
  config?: boolean;
}

/**
 * Runs `source` as a module of its own in a fresh `deno run` with the
 * repository's deno.json (`@root/` in it stands for the repository's root
 * URL, e.g. `import "@root/mod.ts"`), in `dir`; resolves with its stdout,
 * rejects with its stderr when it fails.
 */
export async function runProbe(
  dir: string,
  source: string,
  options: ProbeOptions = {},
): Promise<string> {
  const probe = `${dir}/probe.ts`;
  await Deno.writeTextFile(probe, source.replaceAll("@root/", ROOT_URL));
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      ...options.config === false
        ? ["--no-config"]
        : ["--config", new URL("deno.json", ROOT).pathname],
      ...options.flags ?? [],
      probe,
    ],
    cwd: options.config === false ? dir : ROOT.pathname,
    env: options.env ?? {},
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `the probe failed:\n${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return new TextDecoder().decode(output.stdout);
}

/**
 * The modules loaded by running `source` (see {@linkcode runProbe}): the
 * repository's own as paths from its root (`src/errors.ts`), npm packages'
 * files as `npm:<path in the package cache>`; the probe itself is left out.
 * `env` is added to the probe's environment.
 */
export async function loadedModules(
  source: string,
  env: Record<string, string> = {},
): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "loaded_modules_" });
  try {
    const coverage = `${dir}/coverage`;
    await runProbe(dir, source, { flags: [`--coverage=${coverage}`], env });
    const probe = new URL(`file://${dir}/probe.ts`).href;
    const found = new Set<string>();
    for await (const entry of Deno.readDir(coverage)) {
      const { url } = JSON.parse(
        await Deno.readTextFile(`${coverage}/${entry.name}`),
      ) as { url: string };
      if (url === probe) continue;
      if (url.startsWith(ROOT_URL)) found.add(url.slice(ROOT_URL.length));
      else if (url.includes("/npm/")) found.add(`npm:${url.split("/npm/")[1]}`);
      else found.add(url);
    }
    return [...found].sort();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
