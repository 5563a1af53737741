#!/usr/bin/env bash
# Runs every test of the project: typecheck, lint, unit/component/server
# tests, then the end-to-end tests in Debian's Chromium against the real site.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-system-packages.sh

step() { printf '\n=== %s ===\n' "$1"; }

step "typecheck"
npm run -s typecheck

step "lint"
npm run -s lint

step "unit, component and server tests (Vitest)"
npx vitest run

step "build the console"
npm run -s build

step "end-to-end tests (Playwright, Debian Chromium)"
npx playwright test
