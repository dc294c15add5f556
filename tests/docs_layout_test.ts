/**
 * The front door: README.md stays short, opens with what a newcomer needs,
 * and every link of the README and the guides under docs/ leads somewhere.
 * (Their `ts` code blocks run under `deno test --doc`, as the README's do.)
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const README = await Deno.readTextFile(new URL("README.md", ROOT));
const GUIDES: string[] = [];
for await (const entry of Deno.readDir(new URL("docs/", ROOT))) {
  if (entry.isFile && entry.name.endsWith(".md")) {
    GUIDES.push(`docs/${entry.name}`);
  }
}
GUIDES.sort();

/**
 * Guides that other parts of the work write (testing with fake time, Valkey
 * Sentinel and Cluster, recovery, observability): linked from the README
 * already, checked for existence once they are in the tree.
 */
const WRITTEN_ELSEWHERE = new Set([
  "docs/testing.md",
  "docs/valkey.md",
  "docs/recovery.md",
  "docs/observability.md",
]);

/** GitHub's heading anchors. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, "")
    .replaceAll(" ", "-");
}

function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = !fenced && /^#{1,6} (.*)$/.exec(line);
    if (heading) found.add(slug(heading[1]));
  }
  return found;
}

async function exists(url: URL): Promise<boolean> {
  try {
    await Deno.stat(url);
    return true;
  } catch {
    return false;
  }
}

Deno.test("README is at most 30 KB and has a table of contents linking every section", () => {
  const bytes = new TextEncoder().encode(README).length;
  assert.ok(bytes <= 30_000, `README.md is ${bytes} bytes`);
  const contents = README.indexOf("## Contents");
  assert.ok(contents > 0, "a Contents section");
  const toc = README.slice(contents, README.indexOf("\n## ", contents + 1));
  const sections = README.split("\n").filter((line) => line.startsWith("## "))
    .map((line) => slug(line.slice(3)))
    .filter((id) => id !== "quick-start" && id !== "contents");
  for (const id of sections) {
    assert.ok(toc.includes(`(#${id})`), `the contents link #${id}`);
  }
});

Deno.test("a newcomer finds how to run, test and scale a job and where the guides are within the first screens", () => {
  const firstScreens = README.split("\n").slice(0, 80).join("\n");
  for (
    const target of [
      "#schedule-one-call",
      "#testing-your-jobs-with-fake-time",
      "#several-instances",
      "#guides",
    ]
  ) {
    assert.ok(firstScreens.includes(`(${target})`), target);
  }
});

Deno.test("every link of the README and of docs/ leads to a file and a heading that exist", async () => {
  const files = ["README.md", ...GUIDES];
  const texts = new Map<string, string>();
  for (const file of files) {
    texts.set(file, await Deno.readTextFile(new URL(file, ROOT)));
  }
  let checked = 0;
  for (const [file, text] of texts) {
    const base = new URL(file, ROOT);
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // https:, jsr:
      const [path, anchor] = target.split("#");
      const url = path === "" ? base : new URL(path, base);
      const relative = url.pathname.slice(ROOT.pathname.length);
      if (WRITTEN_ELSEWHERE.has(relative) && !(await exists(url))) continue;
      assert.ok(await exists(url), `${file} links ${target}: no such file`);
      checked++;
      if (anchor === undefined || !relative.endsWith(".md")) continue;
      const targetText = texts.get(relative) ??
        await Deno.readTextFile(url);
      assert.ok(
        anchors(targetText).has(anchor),
        `${file} links ${target}: no such heading`,
      );
    }
  }
  assert.ok(checked > 50, `${checked} links checked`);
});

Deno.test("every guide the README's guide table names is linked, and every guide in docs/ is in it", () => {
  const start = README.indexOf("## Guides");
  const table = README.slice(start);
  for (const guide of GUIDES) {
    assert.ok(table.includes(`(${guide})`), `the guide table lists ${guide}`);
  }
});
