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

/** Options of a script's process. */
export interface ScriptOptions {
  readonly args: readonly string[];
  /** Permission flags; default `--allow-all`. */
  readonly permissions?: readonly string[];
}

/**
 * A `deno run` command for `script`, output piped: `.output()` to wait for
 * it, `.spawn()` to signal it while it runs.
 */
export function denoCommand(script: URL, options: ScriptOptions): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
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
  });
}

/** `deno run --allow-all` for `module` with `args`. */
export function denoRun(module: URL, args: string[]): Deno.Command {
  return denoCommand(module, { args });
}

/** Runs `script` and waits for it to exit. */
export async function runScript(
  script: URL,
  options: ScriptOptions,
): Promise<ProcessResult> {
  const output = await denoCommand(script, options).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}
