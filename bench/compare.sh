#!/usr/bin/env bash
# Patchbay side by side with its peers, in one run of the shared harness on this machine.
#
#   bench/compare.sh                  # PostgreSQL: A (raw floor), E (PostGraphile), ours; 3 rounds
#   bench/compare.sh --sqlite         # SQLite default: S (raw Starlette + aiosqlite floor), ours
#   bench/compare.sh --rows 1000000   # the same with a million prompts
#   bench/compare.sh -- --duration 20 # anything after -- goes to peers.sh
#
# Patchbay runs the way production would: `patchbay serve` (uvloop, httptools), production
# settings, a real HS256 secret, one worker pinned to the server CPU by the harness, and its
# access line written for every request (to the harness's server log), as production writes it.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
SHARED="${PEERS_BENCH:-$ROOT/../shared/bench}"
RUN="$HERE/.run"
PEERS="$RUN/peers"  # a writable copy: the harness installs its venv and node_modules beside it
mode=postgres rows=1000 only="" rounds=3 extra=()
while (($#)); do
  case "$1" in
    --sqlite) mode=sqlite ;;
    --rows) rows="$2"; shift ;;
    --only) only="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--sqlite] [--rows N] [--only LIST] [--rounds N] [-- peers.sh args]" >&2; exit 2 ;;
  esac
  shift
done
log() { printf '[compare] %s\n' "$*" >&2; }
mkdir -p "$PEERS"
(cd "$SHARED" && tar --exclude=.venv --exclude=node_modules --exclude=.run --exclude=results -cf - .) \
  | (cd "$PEERS" && tar -xf - && chmod -R u+w .)

[ -x "$ROOT/.venv/bin/patchbay" ] || python3 "$ROOT/dev.py" install
PY="$ROOT/.venv/bin/python"
SECRET="bench-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

if [ "$mode" = postgres ]; then
  version="$(ls /etc/postgresql | head -n 1)"
  pg_lsclusters -h | grep -q online || pg_ctlcluster --skip-systemctl-redirect "$version" main start
  su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS patchbay_bench WITH (FORCE)' -c 'CREATE DATABASE patchbay_bench'"
  URL="postgresql+asyncpg://postgres@127.0.0.1:5432/patchbay_bench"
  only="${only:-A,E,ours}"
else
  rm -f "$RUN"/bench.db*
  URL="sqlite+aiosqlite:///$RUN/bench.db"
  only="${only:-S,ours}"
fi

log "preparing $rows prompts on $mode"
(cd "$ROOT" && "$PY" bench/prepare.py --url "$URL" --rows "$rows" --ids "$RUN/ids.txt" \
  --token "$RUN/token" --secret "$SECRET")

export OURS_CMD="cd '$ROOT' && PATCHBAY_ENV=production PATCHBAY_DATABASE_URL='$URL' \
PATCHBAY_JWT_SECRET='$SECRET' PATCHBAY_LOG_LEVEL=info exec .venv/bin/patchbay serve --port {port}"
export OURS_TOKEN="$(cat "$RUN/token")" OURS_IDS="$RUN/ids.txt" OURS_VERIFY=none

contenders="$PEERS/contenders.toml"
if [ "$mode" = sqlite ]; then
  # The shared harness has no SQLite peer: add ours (S) next to its definitions.
  contenders="$RUN/contenders-sqlite.toml"
  cp "$PEERS/contenders.toml" "$contenders"
  cat >> "$contenders" <<TOML

[[contender]]
name = "S"
label = "SQLite floor: Starlette+aiosqlite+orjson, one UPDATE ... RETURNING, no GraphQL"
group = "extra"
cmd = "cd '$HERE/contenders' && FLOOR_SQLITE_PATH='$RUN/bench.db' exec '$PY' -m uvicorn sqlite_floor:app --host 127.0.0.1 --port {port} --workers 1 --loop uvloop --http httptools --no-access-log"
path = "/prompts/__ID__"
body = '{"description":"__DESC__"}'
ok = '"updated_at"'
ids = "$RUN/ids.txt"
verify = "none"
TOML
fi

before=$("$PY" "$HERE/count_updates.py" "$URL")
server_log="$PEERS/.run/server-ours.log"
log_offset=$(stat -c %s "$server_log" 2>/dev/null || echo 0)
out="$RUN/result-$mode-$rows.json"
"$PEERS/peers.sh" --contenders "$contenders" --only "$only" --rounds "$rounds" --out "$out" "${extra[@]}"
after=$("$PY" "$HERE/count_updates.py" "$URL")
"$PY" "$HERE/check_landed.py" "$out" "$before" "$after"
if [ -f "$server_log" ]; then  # Patchbay's own latency, without the load generator's
  "$PY" "$HERE/server_latency.py" "$server_log" --from-byte "$log_offset"
fi
