/**
 * Our own figures against their floors, from the same run as the comparison:
 * the lines `deno task bench` prints for the time core (zone-years, sparse
 * crons) and the engine (replay against a bare `await`, run controls, Date
 * objects per run), each script in a child process of its own.
 */
import type { Section } from "./_report.ts";

async function figures(script: string, flags: string[] = []): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", ...flags, script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trimEnd();
  if (!output.success) throw new Error(`${script} failed:\n${text}`);
  return text;
}

/** The section: each script's output as printed. */
export async function measureFloors(): Promise<Section> {
  const timeCore = await figures(
    new URL("../time_core_figures.ts", import.meta.url).pathname,
  );
  const engine = await figures(
    new URL("../engine_figures.ts", import.meta.url).pathname,
    ["--v8-flags=--expose-gc"],
  );
  return {
    title: "Our figures against their floors (`deno task bench`)",
    body: [
      "Printed by `bench/time_core_figures.ts` and `bench/engine_figures.ts` " +
      "(both part of `deno task bench`), run by this comparison so that they " +
      "come from the same run as the tables above. Each figure is a ratio to " +
      "a floor measured in the same process (a dense cron, a bare `await` " +
      "loop, a run without the control), or a count.",
      "",
      "```text",
      timeCore,
      engine,
      "```",
    ].join("\n"),
  };
}
