/**
 * Runs a file of examples/ as users run it: its own `deno run` process with
 * the repository's deno.json and only the permissions given.
 */
import { type ProcessResult, runScript } from "./_processes.ts";

const EXAMPLES = new URL("../examples/", import.meta.url);

/** Runs `examples/<file>` with `permissions` (flags) and `args`. */
export function runExample(
  file: string,
  { permissions, args }: { permissions: string[]; args: string[] },
): Promise<ProcessResult> {
  return runScript(new URL(file, EXAMPLES), { args, permissions });
}
