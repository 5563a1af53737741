#!/usr/bin/env bash
# Runs every test of the project: typecheck, lint, unit/component/server
# tests, then the end-to-end tests in Debian's Chromium against the real site.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

bash scripts/ensure-system-packages.sh

step() { printf '\n=== %s ===\n' "$1"; }
took() { printf '%s took %d s (%d s since the start)\n' "$1" "$((SECONDS - $2))" "$((SECONDS - started))"; }

# Typecheck, lint and the console's build do not depend on each other and
# each keeps about one core busy: run them side by side, then print each
# one's output in order and stop if any failed.
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
names=("typecheck" "lint" "build the console")
commands=("npm run -s typecheck" "npm run -s lint" "npm run -s build")
pids=()
for i in "${!commands[@]}"; do
  bash -c "${commands[$i]}" >"$logs/$i.log" 2>&1 &
  pids+=("$!")
done
failed=0
for i in "${!commands[@]}"; do
  status=0
  wait "${pids[$i]}" || status=$?
  step "${names[$i]}"
  cat "$logs/$i.log"
  if [ "$status" -ne 0 ]; then
    echo "${names[$i]} failed (exit $status)" >&2
    failed=1
  fi
done
[ "$failed" -eq 0 ] || exit 1
took "typecheck, lint and build" "$started"

step "unit, component and server tests (Vitest)"
mark=$SECONDS
npx vitest run
took "Vitest" "$mark"

step "end-to-end tests (Playwright, Debian Chromium, one site per worker)"
mark=$SECONDS
npx playwright test
took "Playwright" "$mark"
