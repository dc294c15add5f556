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
