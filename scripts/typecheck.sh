#!/usr/bin/env bash
# Typechecks the four projects at once (about a minute sooner than one by one),
# printing each project's errors and failing if any project fails.
set -u
pids=()
names=()
run() {
  local project=$1
  vue-tsc --noEmit -p "$project" > ".typecheck-$project.log" 2>&1 &
  pids+=($!)
  names+=("$project")
}
PATH="$(dirname "$0")/../node_modules/.bin:$PATH"
status=0
run tsconfig.app.json
run tsconfig.test.json
run tsconfig.core.json
run tsconfig.node.json
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    status=1
    echo "typecheck failed: ${names[$i]}"
  fi
  cat ".typecheck-${names[$i]}.log"
  rm -f ".typecheck-${names[$i]}.log"
done
exit $status
