/**
 * The demo, run as users run it: a real process on a Deno KV file, twice.
 * Real time: a few hundred milliseconds per run.
 */
import assert from "node:assert/strict";
import { runExample } from "./_run_example.ts";

function demo(args: string[]) {
  return runExample("demo.ts", {
    permissions: ["--allow-read", "--allow-write"],
    args,
  });
}

function runNumbers(stdout: string): number[] {
  return [...stdout.matchAll(/^run #(\d+) +scheduled /gm)].map((m) =>
    Number(m[1])
  );
}

Deno.test("demo: the second start resumes where the first stopped", async () => {
  const data = await Deno.makeTempDir();
  try {
    const args = [
      "--interval",
      "150",
      "--runs",
      "2",
      "--tz",
      "UTC",
      "--data",
      data,
    ];
    const first = await demo(args);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^new state: first run at /m);
    assert.deepEqual(runNumbers(first.stdout), [1, 2]);
    // (A new counter starts from the time in microseconds.)
    const firstTokens = [...first.stdout.matchAll(/fencing token (\d+)/g)]
      .map((m) => BigInt(m[1]));
    assert.deepEqual(firstTokens, [firstTokens[0], firstTokens[0] + 1n]);
    assert.match(
      first.stdout,
      /^stopped \(2 run\(s\) done in this session\) at triggerCount 2/m,
    );

    const second = await demo(args);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^resumed at triggerCount 2, next run at /m);
    const numbers = runNumbers(second.stdout);
    assert.equal(numbers.length, 2);
    assert.ok(
      numbers[0] > 2 && numbers[1] > numbers[0],
      `continues counting: ${numbers}`,
    );
    // Fencing tokens keep increasing across processes: the KV guard remembers.
    const tokens = [...second.stdout.matchAll(/fencing token (\d+)/g)].map((
      m,
    ) => BigInt(m[1]));
    assert.deepEqual(tokens, [firstTokens[0] + 2n, firstTokens[0] + 3n]);
    assert.ok((await Deno.stat(`${data}/demo.kv`)).isFile);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("demo: --store memory starts fresh every time and prints no fencing token", async () => {
  const data = await Deno.makeTempDir();
  try {
    const args = [
      "--interval",
      "100",
      "--runs",
      "1",
      "--store",
      "memory",
      "--data",
      data,
    ];
    for (let i = 0; i < 2; i++) {
      const result = await demo(args);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^new state: /m);
      // On a busy machine the first 100 ms occurrence can be missed and
      // caught up as #2: what matters is a fresh state and no token.
      assert.match(
        result.stdout,
        /^run #[12] .*fencing token -( {2}\(catch-up\))?$/m,
      );
    }
    assert.deepEqual([...Deno.readDirSync(data)], [], "nothing written");
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("demo: bad flags print the usage and exit 2", async () => {
  for (
    const [args, fragment] of [
      [["--bogus"], /unknown option "--bogus"/],
      [["--interval"], /--interval needs a value/],
      [["--interval", "0"], /--interval must be a whole number >= 1, got "0"/],
      [["--interval", "10", "--cron", "* * * * *"], /not both/],
      [["--cron", "@reboot"], /invalid cron expression `@reboot`/],
      [["--tz", "Mars/Base"], /--tz must be an IANA time zone/],
      [["--store", "redis"], /--store must be kv or memory/],
      [["--runs", "-1"], /--runs must be a whole number/],
    ] as const
  ) {
    const result = await demo([...args]);
    assert.equal(result.code, 2, `${args.join(" ")} exits 2`);
    assert.match(result.stderr, fragment);
    assert.match(result.stderr, /^usage: deno task demo/m);
    assert.equal(result.stdout, "");
  }
});

Deno.test("demo: a bad job id or a --data that is a file prints the usage and exits 2, without a stack trace", async () => {
  const file = await Deno.makeTempFile();
  try {
    for (
      const [args, fragment] of [
        [["--job", ""], /job id must be a non-empty string, got ""/],
        [["--job", "a\nb"], /job id must not contain control characters/],
        [["--job", "x".repeat(600)], /at most 512 characters, got 600/],
        [["--data", file], /--data must be a directory, got the file/],
      ] as const
    ) {
      const result = await demo([...args, "--store", "memory"]);
      assert.equal(result.code, 2, `${args.join(" ")} exits 2`);
      assert.match(result.stderr, fragment);
      assert.match(result.stderr, /^usage: deno task demo/m);
      assert.doesNotMatch(result.stderr, /^\s+at /m, "no stack trace");
      assert.equal(result.stdout, "");
    }
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("demo: --help prints the usage and exits 0", async () => {
  const result = await demo(["--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^usage: deno task demo/m);
});
