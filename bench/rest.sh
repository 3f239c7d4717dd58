#!/usr/bin/env bash
# The REST update path beside the shared harness's raw floor A, in one run of compare.sh.
#
#   bench/rest.sh                     # PostgreSQL: A (Starlette + asyncpg floor) and ours; 3 rounds
#   bench/rest.sh --rounds 1 -- --warmup 1 --duration 3   # a smoke run
#   BEFORE_ROOT=../old bench/rest.sh --only A,before,ours   # an earlier checkout's REST front too
#
# Every request of ours is `PATCH /v1/prompts/{id}` with `{"description": "..."}` (the audio
# prompt page's endpoint), through the whole gateway: JWT, request id, body limit, the
# resolvers' validation and one UPDATE ... RETURNING, the access line. A's is its own
# `POST /prompts/{id}` with the same JSON patch.
#
# The shared harness sends POST only; this script hands compare.sh a copy of it in which a
# request whose path starts with /v1/ is sent as PATCH (wrk's script and the sanity request),
# and nothing else changes.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
SHARED="${PEERS_BENCH:-$ROOT/../shared/bench}"
HARNESS="$HERE/.run/rest-harness"
rounds=3 only=A,ours extra=()
while (($#)); do
  case "$1" in
    --rounds) rounds="$2"; shift ;;
    --only) only="$2"; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--rounds N] [--only LIST] [-- peers.sh args]" >&2; exit 2 ;;
  esac
  shift
done

mkdir -p "$HARNESS"
(cd "$SHARED" && tar --exclude=.venv --exclude=node_modules --exclude=.run --exclude=results -cf - .) \
  | (cd "$HARNESS" && tar -xf - && chmod -R u+w .)
# wrk: PATCH for /v1/ paths, POST as before for every other contender
sed -i 's|^  wrk.method = "POST"$|  wrk.method = string.find(path_tpl, "^/v1/") and "PATCH" or "POST"|' \
  "$HARNESS/lua/mutation.lua"
sed -i 's|headers=headers, method="POST")|headers=headers, method="PATCH" if "/v1/" in url else "POST")|' \
  "$HARNESS/runner.py"
grep -q '"PATCH"' "$HARNESS/lua/mutation.lua" && grep -q '"PATCH" if' "$HARNESS/runner.py" \
  || { echo "rest.sh: the shared harness changed; update the PATCH edits" >&2; exit 1; }

export OURS_PATH='/v1/prompts/__ID__'
export OURS_BODY='{"description":"__DESC__"}'
export OURS_OK='"updated_at"'
PEERS_BENCH="$HARNESS" exec "$HERE/compare.sh" --only "$only" --rounds "$rounds" -- "${extra[@]}"
