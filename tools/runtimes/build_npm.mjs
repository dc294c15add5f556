/**
 * Builds the package the way JSR serves it to Node and Bun: every TypeScript
 * module of the publish set transpiled on its own to a `.js` file next to
 * where it was, relative `.ts` import specifiers rewritten to `.js`, `npm:`
 * specifiers turned into bare package names, and a package.json whose
 * "exports" mirror deno.json's.
 *
 * Usage: node build_npm.mjs <repository root> <output folder> <folder whose
 * node_modules holds esbuild>
 *
 * esbuild comes from a scratch folder, never from the library's own
 * dependencies: this is a CI tool, not part of the package.
 */
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import process from "node:process";

const [root, out, toolsFolder] = process.argv.slice(2);
if (!root || !out || !toolsFolder) {
  throw new Error(
    "usage: node build_npm.mjs <root> <output folder> <esbuild folder>",
  );
}
const esbuild = createRequire(path.join(toolsFolder, "package.json"))(
  "esbuild",
);
const deno = JSON.parse(await readFile(path.join(root, "deno.json"), "utf8"));

/** Every .ts file under the publish "include" entries. */
async function publishedModules() {
  const found = [];
  const visit = async (relative) => {
    const absolute = path.join(root, relative);
    const entries = await readdir(absolute, { withFileTypes: true }).catch(
      () => undefined,
    );
    if (entries === undefined) {
      if (relative.endsWith(".ts")) found.push(absolute);
      return;
    }
    for (const entry of entries) {
      await visit(path.join(relative, entry.name));
    }
  };
  for (const include of deno.publish.include) await visit(include);
  return found.sort();
}

/** `npm:name@range/sub` → { name, range, bare: "name/sub" }. */
function npmSpecifier(specifier) {
  const match = /^npm:(@[^/@]+\/[^/@]+|[^/@]+)(?:@([^/]+))?(\/.*)?$/.exec(
    specifier,
  );
  if (match === null) throw new Error(`unreadable npm specifier ${specifier}`);
  const [, name, range = "*", sub = ""] = match;
  return { name, range, bare: name + sub };
}

const dependencies = {};

/** Keeps every import external, rewritten as JSR's npm view writes it. */
const jsrSpecifiers = {
  name: "jsr-specifiers",
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === "entry-point") return undefined;
      const specifier = deno.imports?.[args.path] ?? args.path;
      if (specifier.startsWith("./") || specifier.startsWith("../")) {
        return { path: specifier.replace(/\.ts$/, ".js"), external: true };
      }
      if (specifier.startsWith("node:")) {
        return { path: specifier, external: true };
      }
      if (specifier.startsWith("npm:")) {
        const { name, range, bare } = npmSpecifier(specifier);
        dependencies[name] = range;
        return { path: bare, external: true };
      }
      return {
        errors: [{
          text:
            `${args.path} in ${args.importer}: only relative, node: and npm: imports can be served to Node`,
        }],
      };
    });
  },
};

const modules = await publishedModules();
await rm(out, { recursive: true, force: true });
await esbuild.build({
  entryPoints: modules,
  outbase: root,
  outdir: out,
  // Bundling with every import external transpiles each module on its own
  // while letting the plugin rewrite the specifiers.
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  plugins: [jsrSpecifiers],
  logLevel: "warning",
});

const exportsMap = Object.fromEntries(
  Object.entries(deno.exports).map((
    [key, value],
  ) => [key, value.replace(/\.ts$/, ".js")]),
);
await writeFile(
  path.join(out, "package.json"),
  JSON.stringify(
    {
      name: deno.name,
      version: deno.version,
      type: "module",
      exports: exportsMap,
      dependencies,
    },
    null,
    2,
  ) + "\n",
);
console.log(
  `build: ${modules.length} modules of ${deno.name} → ${out}`,
);
