#!/usr/bin/env bash
# Runs a command that resolves `jsr:` imports. Where JSR_URL is unset and the
# local registry of ../shared/jsr is beside the clone (machines that cannot
# reach JSR, CI included), it serves the @std packages for the length of the
# command, on a throwaway copy of deno.lock without `jsr:` entries: the
# mirror's integrity hashes differ from JSR's and must never be committed.
# Anywhere else (real JSR, or JSR_URL already set) the command runs as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
mirror=../shared/jsr/start.sh
if [ -n "${JSR_URL:-}" ] || [ ! -f "$mirror" ]; then exec "$@"; fi

eval "$(bash "$mirror")"
lock_backup=$(mktemp)
cp deno.lock "$lock_backup"
cleanup() {
  cp "$lock_backup" deno.lock
  rm -f "$lock_backup"
  kill "$JSR_MIRROR_PID" 2>/dev/null || true
}
trap cleanup EXIT
deno eval '
  const lock = JSON.parse(Deno.readTextFileSync("deno.lock"));
  delete lock.jsr;
  for (const key of Object.keys(lock.specifiers ?? {})) {
    if (key.startsWith("jsr:")) delete lock.specifiers[key];
  }
  Deno.writeTextFileSync("deno.lock", JSON.stringify(lock, null, 2) + "\n");
'
"$@"
