/**
 * The package as a JSR user gets it, without JSR: the files `deno publish`
 * would upload (deno.json `publish.include`), with bare import-map
 * specifiers written as their `npm:`/`jsr:` targets as `deno publish`
 * writes them, laid out the way JSR serves a package
 * (`<scope>/<name>/meta.json`, `<version>_meta.json` with a manifest and the
 * exports, `<version>/<path>`), served on a free loopback port with the @std
 * packages of the local mirror (`../shared/jsr/mirror` beside the clone,
 * see `tools/local_jsr.sh`) beside it. Deno resolves `jsr:` specifiers
 * through `JSR_URL`; a throwaway `DENO_DIR` keeps the copy out of the user's
 * cache. Used by `bench/import_figures.ts` (ARCHITECTURE.md, "What loads
 * when").
 */

const ROOT = new URL("../", import.meta.url);
const MIRROR = new URL("../shared/jsr/mirror/", ROOT);

/** What `deno publish` reads from deno.json. */
interface Manifest {
  name: string;
  version: string;
  exports: Record<string, string>;
  imports: Record<string, string>;
  publish: { include: string[] };
}

/** Options of {@linkcode serveJsrLayout}. */
export interface JsrLayoutOptions {
  /**
   * Files added to the throwaway copy only (path from the package root →
   * source), never to the real package; exported under `extraExports`.
   */
  extraFiles?: Record<string, string>;
  /** Export paths added to the throwaway version's meta only. */
  extraExports?: Record<string, string>;
}

/** A served copy; {@linkcode JsrLayout.close} stops it and removes it. */
export interface JsrLayout {
  /** `jsr:@scope/name@version`, to which an export path may be added. */
  specifier: string;
  /** The URL the version's files are served under, ending in `/`. */
  filesUrl: string;
  /** The environment a `deno` process needs to import it: `JSR_URL`, `DENO_DIR`. */
  env: Record<string, string>;
  /** Published files, by path from the package root. */
  files: string[];
  /** Whether the @std packages of the local mirror are served beside it. */
  hasStd: boolean;
  /** Requests the registry answered so far (a warm cache asks none). */
  requests(): number;
  /** Stops the registry and removes the copy and the `DENO_DIR`. */
  close(): Promise<void>;
}

async function* walk(dir: URL, prefix: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    // Hidden folders and installed packages are git-ignored, so unpublished.
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) {
      yield* walk(new URL(`${entry.name}/`, dir), `${path}/`);
    } else if (entry.isFile) yield path;
  }
}

/** The files `publish.include` names, by path from the root. */
async function publishedFiles(include: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const entry of include) {
    const name = entry.replace(/^\.\//, "").replace(/\/$/, "");
    const info = await Deno.stat(new URL(name, ROOT));
    if (info.isDirectory) {
      for await (const path of walk(new URL(`${name}/`, ROOT), `${name}/`)) {
        files.push(path);
      }
    } else files.push(name);
  }
  return files.sort();
}

/** The full target of a bare specifier, or `undefined` when it has none. */
function target(
  specifier: string,
  imports: Record<string, string>,
): string | undefined {
  if (imports[specifier]) return imports[specifier];
  for (const [key, value] of Object.entries(imports)) {
    if (!specifier.startsWith(`${key}/`)) continue;
    if (value.startsWith("npm:") || value.startsWith("jsr:")) {
      return value + specifier.slice(key.length);
    }
  }
  return undefined;
}

const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])([^"'\n]+)\2/g;

/**
 * `source` with every bare import-map specifier of an import, an export
 * or a string-literal `import()` written as its target, as `deno publish`
 * writes them; comments (JSDoc examples) stay as they are.
 */
export function rewriteSpecifiers(
  source: string,
  imports: Record<string, string>,
): string {
  return source.split("\n").map((line) => {
    if (/^\s*(\*|\/\/|\/\*)/.test(line)) return line;
    return line.replace(SPECIFIER, (whole, lead, quote, specifier) => {
      const full = target(specifier, imports);
      return full ? `${lead}${quote}${full}${quote}` : whole;
    });
  }).join("\n");
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)]
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function writeFile(
  path: string,
  bytes: Uint8Array<ArrayBuffer>,
): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(path, bytes);
}

const TYPES: Record<string, string> = {
  ".ts": "application/typescript",
  ".js": "application/javascript",
  ".json": "application/json",
  ".md": "text/markdown",
};

/**
 * Lays the package out in a throwaway JSR registry and serves it on
 * 127.0.0.1 on a free port.
 */
export async function serveJsrLayout(
  options: JsrLayoutOptions = {},
): Promise<JsrLayout> {
  const manifest = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  ) as Manifest;
  const [scope, name] = manifest.name.slice(1).split("/");
  const dir = await Deno.makeTempDir({ prefix: "jsr_layout_" });
  const registry = `${dir}/registry`;
  const denoDir = `${dir}/deno_dir`;
  const packageDir = `${registry}/@${scope}/${name}`;
  const encoder = new TextEncoder();
  const files = await publishedFiles(manifest.publish.include);
  const sources: [string, Uint8Array<ArrayBuffer>][] = [];
  for (const path of files) {
    sources.push([path, await Deno.readFile(new URL(path, ROOT))]);
  }
  for (const [path, source] of Object.entries(options.extraFiles ?? {})) {
    sources.push([path, encoder.encode(source)]);
  }
  const entries = sources.map(
    ([path, bytes]): [string, Uint8Array<ArrayBuffer>] => {
      if (!/\.(ts|js|mts|tsx)$/.test(path)) return [path, bytes];
      const source = new TextDecoder().decode(bytes);
      return [
        path,
        encoder.encode(rewriteSpecifiers(source, manifest.imports)),
      ];
    },
  );
  const checksums: Record<string, { size: number; checksum: string }> = {};
  for (const [path, bytes] of entries) {
    await writeFile(`${packageDir}/${manifest.version}/${path}`, bytes);
    checksums[`/${path}`] = {
      size: bytes.length,
      checksum: `sha256-${await sha256(bytes)}`,
    };
  }
  await Deno.writeTextFile(
    `${packageDir}/meta.json`,
    JSON.stringify({
      scope,
      name,
      latest: manifest.version,
      versions: { [manifest.version]: {} },
    }),
  );
  await Deno.writeTextFile(
    `${packageDir}/${manifest.version}_meta.json`,
    JSON.stringify({
      manifest: checksums,
      exports: { ...manifest.exports, ...options.extraExports },
    }),
  );
  let hasStd = true;
  try {
    await Deno.stat(new URL("@std/", MIRROR));
    await Deno.symlink(new URL("@std", MIRROR).pathname, `${registry}/@std`);
  } catch {
    // No mirror beside the clone: the package imports nothing from JSR.
    hasStd = false;
  }
  let requests = 0;
  const root = new URL(`file://${registry}/`);
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (request) => {
    requests++;
    const path = decodeURIComponent(new URL(request.url).pathname);
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(new URL(`.${path}`, root));
      const type = TYPES[path.slice(path.lastIndexOf("."))];
      return new Response(body, {
        headers: { "content-type": type ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const url = `http://127.0.0.1:${server.addr.port}/`;
  return {
    specifier: `jsr:${manifest.name}@${manifest.version}`,
    filesUrl: `${url}${manifest.name}/${manifest.version}/`,
    env: {
      JSR_URL: url,
      DENO_DIR: denoDir,
    },
    files: files.concat(Object.keys(options.extraFiles ?? {})),
    hasStd,
    requests: () => requests,
    async close() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
