/**
 * Emits the declaration files of the Node/Bun build (build_npm.mjs): each
 * published module's `.d.ts` beside its `.js`, from the module alone (the
 * library has explicit types on every export, as JSR requires, so no
 * type-check is needed to write them), with import specifiers rewritten as
 * the JavaScript's are, and "types" conditions in package.json's "exports".
 *
 * Usage: node build_types.mjs <repository root> <built package folder>
 * <folder whose node_modules holds typescript>
 *
 * typescript comes from a scratch folder, never from the library's own
 * dependencies: this is a CI tool, not part of the package.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import process from "node:process";

const [root, out, toolsFolder] = process.argv.slice(2);
if (!root || !out || !toolsFolder) {
  throw new Error(
    "usage: node build_types.mjs <root> <package folder> <typescript folder>",
  );
}
const ts = createRequire(path.join(toolsFolder, "package.json"))("typescript");
const deno = JSON.parse(await readFile(path.join(root, "deno.json"), "utf8"));

/** The .js files of the build: one per published module. */
async function builtModules(folder) {
  const found = [];
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const absolute = path.join(folder, entry.name);
    if (entry.isDirectory() && entry.name !== "node_modules") {
      found.push(...await builtModules(absolute));
    } else if (entry.name.endsWith(".js")) found.push(absolute);
  }
  return found;
}

/** `npm:name@range/sub` → "name/sub"; a deno.json import → its target. */
function rewrite(specifier) {
  const mapped = deno.imports?.[specifier] ?? specifier;
  if (mapped.startsWith("./") || mapped.startsWith("../")) {
    return mapped.replace(/\.ts$/, ".js");
  }
  const npm = /^npm:(@[^/@]+\/[^/@]+|[^/@]+)(?:@[^/]+)?(\/.*)?$/.exec(mapped);
  return npm === null ? mapped : npm[1] + (npm[2] ?? "");
}

let failures = 0;
const built = await builtModules(out);
for (const js of built) {
  const source = path.join(root, path.relative(out, js)).replace(
    /\.js$/,
    ".ts",
  );
  const text = await readFile(source, "utf8");
  const result = ts.transpileDeclaration(text, {
    fileName: source,
    reportDiagnostics: true,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      allowImportingTsExtensions: true,
      stripInternal: false,
    },
  });
  for (const diagnostic of result.diagnostics ?? []) {
    failures++;
    const at = diagnostic.file && diagnostic.start !== undefined
      ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1
      : "?";
    console.error(
      `${path.relative(root, source)}:${at}: ${
        ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")
      }`,
    );
  }
  const declarations = result.outputText.replace(
    /((?:from|import)\s*\(?\s*)(["'])([^"']+)\2/g,
    (_, head, quote, specifier) =>
      `${head}${quote}${rewrite(specifier)}${quote}`,
  );
  await writeFile(js.replace(/\.js$/, ".d.ts"), declarations);
}

const manifestPath = path.join(out, "package.json");
const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
manifest.exports = Object.fromEntries(
  Object.entries(manifest.exports).map(([key, js]) => [
    key,
    typeof js === "string"
      ? { types: js.replace(/\.js$/, ".d.ts"), default: js }
      : js,
  ]),
);
await writeFile(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
console.log(`types: ${built.length} declaration files → ${out}`);
if (failures > 0) {
  console.error(`types: ${failures} module(s) need explicit types`);
  process.exit(1);
}
