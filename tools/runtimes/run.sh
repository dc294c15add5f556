#!/usr/bin/env bash
# Builds the package the way JSR serves it to Node and Bun, then runs the
# smoke script (smoke.mjs) under Node (>= 20) and under Bun. Exits non-zero
# when the build or either smoke run fails.
#
# esbuild and Bun come from npm into a scratch folder (RUNTIMES_SCRATCH,
# default .data/runtimes), never into the library's dependencies; NODE picks
# the Node binary (default: node on PATH).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
scratch="${RUNTIMES_SCRATCH:-$root/.data/runtimes}"
node="${NODE:-node}"
esbuild_version=0.28.2
bun_version=1.4.5

installed_version() {
  "$node" -p "require('$scratch/node_modules/$1/package.json').version" 2>/dev/null || true
}

mkdir -p "$scratch"
if [ "$(installed_version esbuild)" != "$esbuild_version" ] ||
  [ "$(installed_version bun)" != "$bun_version" ]; then
  echo "runtimes: installing esbuild@$esbuild_version and bun@$bun_version into $scratch"
  [ -f "$scratch/package.json" ] || echo '{ "private": true }' >"$scratch/package.json"
  npm install --prefix "$scratch" --no-audit --no-fund --no-save \
    "esbuild@$esbuild_version" "bun@$bun_version" >/dev/null
fi

"$node" "$here/build_npm.mjs" "$root" \
  "$scratch/node_modules/@cloudiful/scheduler" "$scratch"
cp "$here/smoke.mjs" "$here/smoke_worker.mjs" "$scratch/"

status=0
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
