/** Runs a script of this repository in its own `deno run` process. */

const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** What a finished process printed, and its exit code. */
export interface ProcessOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `script` with `--allow-all` and the repository's deno.json. */
export async function runScript(
  script: URL,
  args: string[],
): Promise<ProcessOutput> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--config", CONFIG, script.pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}
