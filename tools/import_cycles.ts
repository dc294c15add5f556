/**
 * Lists the import circles among the TypeScript modules under a folder, and
 * exits 1 when there is one. Relative imports only; `import type` counts.
 *
 * Usage: deno run --allow-read tools/import_cycles.ts [folder] [--ignore=sub/]
 * (default folder `src`; a circle whose every module is under an ignored
 * sub-folder is listed but not counted).
 */
import { dirname, join, relative, resolve } from "node:path";

const args = Deno.args.filter((arg) => !arg.startsWith("--ignore="));
const ignored = Deno.args.filter((arg) => arg.startsWith("--ignore="))
  .map((arg) => arg.slice("--ignore=".length));
const root = resolve(args[0] ?? "src");

const files: string[] = [];
function walk(folder: string): void {
  for (const entry of Deno.readDirSync(folder)) {
    const path = join(folder, entry.name);
    if (entry.isDirectory) walk(path);
    else if (path.endsWith(".ts")) files.push(path);
  }
}
walk(root);

const IMPORT = /(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gs;
const graph = new Map<string, string[]>();
for (const file of files) {
  const text = Deno.readTextFileSync(file);
  graph.set(
    file,
    [...text.matchAll(IMPORT)].map((match) => resolve(dirname(file), match[1])),
  );
}

const state = new Map<string, "open" | "done">();
const stack: string[] = [];
const cycles: string[][] = [];
function visit(file: string): void {
  state.set(file, "open");
  stack.push(file);
  for (const target of graph.get(file) ?? []) {
    if (!graph.has(target)) continue;
    if (state.get(target) === "open") {
      cycles.push([...stack.slice(stack.indexOf(target)), target]);
    } else if (state.get(target) === undefined) visit(target);
  }
  stack.pop();
  state.set(file, "done");
}
for (const file of files) if (state.get(file) === undefined) visit(file);

let counted = 0;
for (const cycle of cycles) {
  const names = cycle.map((file) => relative(root, file));
  const ignore = names.every((name) =>
    ignored.some((prefix) => name.startsWith(prefix))
  );
  if (!ignore) counted++;
  console.log(`${ignore ? "ignored" : "circle"}: ${names.join(" -> ")}`);
}
console.log(`${counted} import circle(s) under ${relative(".", root)}`);
if (counted > 0) Deno.exit(1);
