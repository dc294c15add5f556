/** Reading a child process's output line by line, for the process tests. */

/** Reads from `reader` until the text holds a full line (or the stream ends). */
export async function readFirstLine(
  reader: ReadableStreamDefaultReader<string>,
): Promise<string> {
  let output = "";
  while (!output.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    output += value;
  }
  return output;
}

/** A child's exit code and whole output. */
export interface Collected {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** An instance's output, and when it printed `ready` (or ended). */
export function collect(child: Deno.ChildProcess): {
  ready: Promise<void>;
  done: Promise<Collected>;
} {
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const stderr = new Response(child.stderr).text();
  const done = (async () => {
    let stdout = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      stdout += decoder.decode(chunk, { stream: true });
      if (/^ready$/m.test(stdout)) markReady();
    }
    markReady();
    const status = await child.status;
    return { code: status.code, stdout, stderr: await stderr };
  })();
  return { ready, done };
}
