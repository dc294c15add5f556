/**
 * Runs a file of examples/ as users run it: its own `deno run` process with
 * the repository's deno.json and only the permissions given.
 */

const EXAMPLES = new URL("../examples/", import.meta.url);
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** What the process printed and how it exited. */
export interface ExampleOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `examples/<file>` with `permissions` (flags) and `args`. */
export async function runExample(
  file: string,
  { permissions, args }: { permissions: string[]; args: string[] },
): Promise<ExampleOutput> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...permissions,
      "--config",
      CONFIG,
      new URL(file, EXAMPLES).pathname,
      ...args,
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
