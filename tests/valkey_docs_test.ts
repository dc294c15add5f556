/**
 * The code blocks of docs/valkey.md type-check against the library: each
 * `ts` block, with the package's specifiers pointed at this repository, is
 * checked by `deno check` (they need a Sentinel set or a Cluster to run;
 * the same calls run on real ones in valkey_topology_test.ts).
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

Deno.test("docs/valkey.md: every ts block type-checks against the library", async () => {
  const text = await Deno.readTextFile(new URL("docs/valkey.md", ROOT));
  const blocks = [...text.matchAll(/```ts[^\n]*\n([\s\S]*?)```/g)].map((m) =>
    m[1]
  );
  assert.ok(blocks.length >= 3, "the guide has its examples");
  const dir = await Deno.makeTempDir({
    dir: new URL("tests/", ROOT).pathname,
    prefix: ".docs-check-",
  });
  try {
    const files: string[] = [];
    for (const [i, block] of blocks.entries()) {
      const file = `${dir}/block_${i}.ts`;
      await Deno.writeTextFile(
        file,
        "export {};\n" + block
          .replaceAll(
            '"@cloudiful/scheduler/valkey"',
            JSON.stringify(new URL("src/valkey/mod.ts", ROOT).href),
          )
          .replaceAll(
            '"@cloudiful/scheduler"',
            JSON.stringify(new URL("mod.ts", ROOT).href),
          ),
      );
      files.push(file);
    }
    const { success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "check",
        "--config",
        new URL("deno.json", ROOT).pathname,
        ...files,
      ],
      stdout: "null",
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
