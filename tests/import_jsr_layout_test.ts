/**
 * The package as a JSR user imports it (`bench/_jsr_layout.ts`: the files
 * of deno.json `publish.include`, bare specifiers written as `deno publish`
 * writes them, served by a throwaway JSR registry on loopback) loads the
 * same modules as `mod.ts` from the checkout: nothing it needs is left out
 * of the published files, and the import figures of
 * `bench/import_figures.ts` compare the same code both ways.
 */
import { assert, assertEquals } from "@std/assert";
import { serveJsrLayout } from "../bench/_jsr_layout.ts";
import { scriptsLoaded } from "../bench/_scripts_loaded.ts";
import { loadedModules } from "./_loaded_modules.ts";

Deno.test("import: jsr:@cloudiful/scheduler from a JSR layout of the published files loads the modules mod.ts loads from the checkout", async () => {
  const layout = await serveJsrLayout();
  try {
    const served = await scriptsLoaded(`import "${layout.specifier}";`, {
      config: false,
      env: layout.env,
    });
    const outside = served.filter((url) => !url.startsWith(layout.filesUrl));
    assertEquals(outside, []);
    const local = await loadedModules(`import "@root/mod.ts";`);
    assertEquals(
      served.map((url) => url.slice(layout.filesUrl.length)),
      local,
    );
    // The optional telemetry imports the npm package by its full name, as a
    // published module must: the checkout's bare name is an import-map entry.
    const published = await (await fetch(
      `${layout.filesUrl}src/telemetry/_registered.ts`,
    )).text();
    assert(published.includes(`from "npm:@opentelemetry/api@`));
    assert(!published.includes(`from "@opentelemetry/api"`));
  } finally {
    await layout.close();
  }
});
