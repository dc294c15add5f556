#!/usr/bin/env bash
# Builds the package the way JSR serves it to Node and Bun, with its
# declaration files, type-checks a small TypeScript consumer against it
# (tsc --noEmit) and runs it under Node, then runs the smoke script
# (smoke.mjs) under Node (>= 20) and under Bun. Exits non-zero when the build,
# the consumer or either smoke run fails.
#
# esbuild, typescript and Bun come from npm into a scratch folder (RUNTIMES_SCRATCH,
# default .data/runtimes), never into the library's dependencies; NODE picks
# the Node binary (default: node on PATH).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
scratch="${RUNTIMES_SCRATCH:-$root/.data/runtimes}"
node="${NODE:-node}"
esbuild_version=0.28.2
bun_version=1.4.5
typescript_version=5.9.3

installed_version() {
  "$node" -p "require('$scratch/node_modules/$1/package.json').version" 2>/dev/null || true
}

mkdir -p "$scratch"
if [ "$(installed_version esbuild)" != "$esbuild_version" ] ||
  [ "$(installed_version bun)" != "$bun_version" ] ||
  [ "$(installed_version typescript)" != "$typescript_version" ]; then
  echo "runtimes: installing esbuild@$esbuild_version, bun@$bun_version and typescript@$typescript_version into $scratch"
  [ -f "$scratch/package.json" ] || echo '{ "private": true }' >"$scratch/package.json"
  npm install --prefix "$scratch" --no-audit --no-fund --no-save \
    "esbuild@$esbuild_version" "bun@$bun_version" \
    "typescript@$typescript_version" >/dev/null
fi

"$node" "$here/build_npm.mjs" "$root" \
  "$scratch/node_modules/@cloudiful/scheduler" "$scratch"
# The package's own npm dependencies (from its npm: imports), as a user's
# package manager would install them beside it. npm prunes what it did not
# install, so the package is built again afterwards.
dependencies=$("$node" -e '
  const manifest = require(process.argv[1]);
  const deps = Object.entries(manifest.dependencies ?? {});
  console.log(deps.map(([name, range]) => `${name}@${range}`).join(" "));
' "$scratch/node_modules/@cloudiful/scheduler/package.json")
if [ -n "$dependencies" ]; then
  # shellcheck disable=SC2086 # one word per dependency
  npm install --prefix "$scratch" --no-audit --no-fund --no-save \
    "esbuild@$esbuild_version" "bun@$bun_version" \
    "typescript@$typescript_version" $dependencies >/dev/null
  "$node" "$here/build_npm.mjs" "$root" \
    "$scratch/node_modules/@cloudiful/scheduler" "$scratch"
fi
"$node" "$here/build_types.mjs" "$root" \
  "$scratch/node_modules/@cloudiful/scheduler" "$scratch"
cp "$here/smoke.mjs" "$here/smoke_worker.mjs" "$here/consumer.ts" "$scratch/"
cp "$here/consumer.tsconfig.json" "$scratch/tsconfig.json"

status=0
# A plain TypeScript project: type-checked against the declarations, then
# compiled and run under Node. The scratch package.json says "type": "module"
# for the compiled consumer.
tsc="$scratch/node_modules/typescript/bin/tsc"
"$node" -e '
  const fs = require("node:fs");
  const file = process.argv[1];
  const manifest = JSON.parse(fs.readFileSync(file, "utf8"));
  manifest.type = "module";
  fs.writeFileSync(file, JSON.stringify(manifest, null, 2) + "\n");
' "$scratch/package.json"
echo "runtimes: tsc $("$node" "$tsc" --version)"
if "$node" "$tsc" -p "$scratch/tsconfig.json" --noEmit &&
  "$node" "$tsc" -p "$scratch/tsconfig.json" &&
  timeout 60 "$node" "$scratch/consumer_out/consumer.js"; then
  echo "runtimes: TypeScript consumer ok"
else
  echo "runtimes: TypeScript consumer FAILED" >&2
  status=1
fi

echo "runtimes: node $("$node" --version)"
timeout 120 "$node" "$scratch/smoke.mjs" || status=1
bun="$scratch/node_modules/.bin/bun"
echo "runtimes: bun $("$bun" --version)"
timeout 120 "$bun" "$scratch/smoke.mjs" || status=1
if [ "$status" -ne 0 ]; then
  echo "runtimes: FAILED" >&2
else
  echo "runtimes: ok"
fi
exit "$status"
