/**
 * Runs a script of this repository as users run it: a separate `deno run`
 * process with the repository's deno.json, its output collected.
 */

const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** What a finished process left behind. */
export interface ProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `script` with `args` and waits for it to exit. Permissions default
 * to `--allow-all`.
 */
export async function runScript(
  script: URL,
  options: { args: readonly string[]; permissions?: readonly string[] },
): Promise<ProcessResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...(options.permissions ?? ["--allow-all"]),
      "--config",
      CONFIG,
      script.pathname,
      ...options.args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}
