#!/bin/sh
# evaluator.sh - a test evaluator for `opcost search --evaluator`: reads one
# JSON request a line on stdin, answers {"id":..,"accuracy":..} a line on
# stdout. The accuracy is a made-up but deterministic function of the gene
# text (test data, not a trained network's accuracy). MODE picks a failure
# for the error-handling tests:
#   ok              answer every request
#   crash N         exit (status 7) on the N-th request
#   garbage N       answer the N-th and later requests with a line that is not JSON
#   slow N          sleep 5 s before answering the N-th and later requests
#   wrongid         answer with another id
#   nan             answer with an accuracy that is not a number
#   flaky MARKER    exit at once unless MARKER exists (creating it): the first
#                   process dies, a restarted one answers
# One awk per request: awk reading a pipe may wait for a full buffer.
mode=${1:-ok}
arg=${2:-0}
if [ "$mode" = flaky ]; then
  if [ ! -e "$arg" ]; then
    : > "$arg"
    exit 3
  fi
  mode=ok
fi
n=0
while IFS= read -r line; do
  n=$((n + 1))
  if [ "$mode" = crash ] && [ "$n" -ge "$arg" ]; then exit 7; fi
  if [ "$mode" = garbage ] && [ "$n" -ge "$arg" ]; then echo "this is not json"; continue; fi
  if [ "$mode" = slow ] && [ "$n" -ge "$arg" ]; then sleep 5; fi
  printf '%s\n' "$line" | awk -v mode="$mode" '
  {
    if (!match($0, /"id":[0-9]+/)) { print "{\"error\":\"request without an id\"}"; exit }
    id = substr($0, RSTART + 5, RLENGTH - 5)
    g = ""
    if (match($0, /"genes":"[^"]*"/)) g = substr($0, RSTART + 9, RLENGTH - 10)
    t = g; c5 = gsub(/5/, "", t)
    t = g; c7 = gsub(/7/, "", t)
    t = g; c6 = gsub(/6/, "", t)
    acc = 0.5 + 0.02 * c5 + 0.03 * c7 + 0.01 * c6
    if (index(g, "d=2")) acc += 0.08
    if (index(g, "r=48")) acc += 0.05
    if (mode == "wrongid") id = id + 1
    if (mode == "nan") { printf "{\"id\":%s,\"accuracy\":\"high\"}\n", id; exit }
    printf "{\"id\":%s,\"accuracy\":%.6f}\n", id, acc
  }'
done
