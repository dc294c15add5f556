/**
 * Runs a test fixture as its own `deno run` process with the repository's
 * config, as the multi-process tests do.
 */

const ROOT = new URL("../", import.meta.url);

/** A `deno run --allow-all` command for `module` with `args`. */
export function denoRun(
  module: URL,
  args: string[],
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--config",
      new URL("deno.json", ROOT).pathname,
      module.pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  });
}
