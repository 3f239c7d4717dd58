#!/usr/bin/env bash
# Patchbay side by side with its peers, in one run of the shared harness on this machine.
#
#   bench/compare.sh                  # PostgreSQL: A (raw floor), E (PostGraphile), ours; 3 rounds
#   bench/compare.sh --sqlite         # SQLite default: S (raw Starlette + aiosqlite floor), ours
#   bench/compare.sh --rows 1000000   # the same with a million prompts
#   bench/compare.sh --only A,E5,ours # pick contenders (names: peers.sh --list; S/S-list: --sqlite)
#   bench/compare.sh -- --duration 20 # anything after -- goes to peers.sh
#   BEFORE_ROOT=../old bench/compare.sh --only A,before,ours  # an earlier checkout, interleaved
#   VARIANTS='off=PATCHBAY_OPERATION_COST=false;local=PATCHBAY_RATE_LIMIT=true' \
#     bench/compare.sh --only A,ours-off,ours,ours-local   # this checkout with other settings
#
# Reads (--reads): every request is `prompts(first: 50)` with the 9 fields the harness's read
# group returns (id name description title content model tags updatedAt updatedBy), instead of
# an update; nothing is written.
#
#   bench/compare.sh --reads          # PostgreSQL: A-list (Starlette + asyncpg SELECT), E5-list
#                                     #   (PostGraphile 5 allPrompts(first: 50)), ours
#   bench/compare.sh --sqlite --reads # SQLite: S-list (Starlette + aiosqlite SELECT), ours
#   bench/compare.sh --reads --rows 1000000 --only A-list,ours
#   bench/compare.sh --reads --rounds 1 -- --warmup 1 --duration 3   # a smoke run
#
# With --reads, bench/prepare.py --like-harness fills Patchbay's rows as the harness fills its
# own (540-character content, title, model, tags …) and leaves only them in the org, so both
# sides read 50 rows of about the same size; on PostgreSQL the harness seeds its own `bench`
# table with --rows too (for updates it keeps its default 1000 whatever --rows says).
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
mode=postgres workload=updates rows=1000 only="" rounds=3 extra=()
while (($#)); do
  case "$1" in
    --sqlite) mode=sqlite ;;
    --reads) workload=reads ;;
    --rows) rows="$2"; shift ;;
    --only) only="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--sqlite] [--reads] [--rows N] [--only LIST] [--rounds N] [-- peers.sh args]" >&2
       exit 2 ;;
  esac
  shift
done
log() { printf '[compare] %s\n' "$*" >&2; }
mkdir -p "$PEERS"
(cd "$SHARED" && tar --exclude=.venv --exclude=node_modules --exclude=.run --exclude=results -cf - .) \
  | (cd "$PEERS" && tar -xf - && chmod -R u+w .)
# The harness names its seeded prompts 'prompt-' || lpad(n, 5, '0'): lpad cuts longer numbers
# to 5 characters, so from 100,000 rows on two rows get one name and its unique key refuses the
# seed. On our writable copy only, pad to the width the row count needs.
if ((rows > 99999)); then
  sed -i "s/lpad(n::text, 5, '0')/lpad(n::text, ${#rows}, '0')/" "$PEERS/runner.py"
  grep -q "lpad(n::text, ${#rows}, '0')" "$PEERS/runner.py" || { echo "[compare] the harness's seed changed; see $0" >&2; exit 1; }
fi

[ -x "$ROOT/.venv/bin/patchbay" ] || python3 "$ROOT/dev.py" install
PY="$ROOT/.venv/bin/python"
SECRET="bench-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

if [ "$mode" = postgres ]; then
  version="$(ls /etc/postgresql | head -n 1)"
  pg_lsclusters -h | grep -q online || pg_ctlcluster --skip-systemctl-redirect "$version" main start
  su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS patchbay_bench WITH (FORCE)' -c 'CREATE DATABASE patchbay_bench'"
  URL="postgresql+asyncpg://postgres@127.0.0.1:5432/patchbay_bench"
  if [ "$workload" = reads ]; then only="${only:-A-list,E5-list,ours}"; else only="${only:-A,E,ours}"; fi
else
  rm -f "$RUN"/bench.db*
  URL="sqlite+aiosqlite:///$RUN/bench.db"
  if [ "$workload" = reads ]; then only="${only:-S-list,ours}"; else only="${only:-S,ours}"; fi
fi

prepare_args=() harness_args=()
if [ "$workload" = reads ]; then
  prepare_args=(--like-harness)  # rows like the harness's own (see the top of this file)
  # A-list/E5-list read a table of the same size as ours (on SQLite both sides read bench.db)
  [ "$mode" = sqlite ] || harness_args=(--rows "$rows")
fi
log "preparing $rows prompts on $mode ($workload)"
(cd "$ROOT" && "$PY" bench/prepare.py --url "$URL" --rows "$rows" --ids "$RUN/ids.txt" \
  --token "$RUN/token" --secret "$SECRET" "${prepare_args[@]}")

export OURS_CMD="cd '$ROOT' && PATCHBAY_ENV=production PATCHBAY_DATABASE_URL='$URL' \
PATCHBAY_JWT_SECRET='$SECRET' PATCHBAY_LOG_LEVEL=info exec .venv/bin/patchbay serve --port {port}"
export OURS_TOKEN="$(cat "$RUN/token")" OURS_IDS="$RUN/ids.txt" OURS_VERIFY=none
if [ "$workload" = reads ]; then
  # The same page as A-list / E5-list: the org's first 50 prompts, the same 9 fields. Only a
  # page with at least one node contains "updatedBy" (an error result or an empty page does not).
  export OURS_BODY='{"query":"query L($n: Int!) { prompts(first: $n) { ... on PromptConnection { edges { node { id name description title content model tags updatedAt updatedBy } } } } }","variables":{"n":50}}'
  export OURS_OK='"updatedBy"'
fi

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

[[contender]]
name = "S-list"
label = "SQLite read floor: Starlette+aiosqlite+orjson, SELECT 50 rows, no GraphQL"
group = "extra"
cmd = "cd '$HERE/contenders' && FLOOR_SQLITE_PATH='$RUN/bench.db' exec '$PY' -m uvicorn sqlite_floor:app --host 127.0.0.1 --port {port} --workers 1 --loop uvloop --http httptools --no-access-log"
path = "/list"
body = '{"first":50}'
ok = '"updated_at"'
verify = "none"
TOML
fi

if [ -n "${BEFORE_ROOT:-}" ]; then
  # An earlier checkout of Patchbay as contender "before", with the same settings and rows as
  # ours: rounds interleave, so before and after are measured in one sitting. It runs on this
  # checkout's .venv, its own code first on the path, on a database of its own that its own
  # code migrates and fills (so an earlier commit can be measured across a migration: it would
  # refuse a database at a migration it does not know), on the same server or directory.
  [ "$contenders" != "$PEERS/contenders.toml" ] || {
    cp "$PEERS/contenders.toml" "$RUN/contenders-before.toml"; contenders="$RUN/contenders-before.toml"; }
  if [ "$mode" = postgres ]; then
    su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS patchbay_bench_before WITH (FORCE)' -c 'CREATE DATABASE patchbay_bench_before'"
    BEFORE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/patchbay_bench_before"
  else
    rm -f "$RUN"/bench-before.db*
    BEFORE_URL="sqlite+aiosqlite:///$RUN/bench-before.db"
  fi
  log "preparing $rows prompts for before ($BEFORE_ROOT)"
  (cd "$BEFORE_ROOT" && PYTHONPATH="$BEFORE_ROOT" "$PY" bench/prepare.py --url "$BEFORE_URL" \
    --rows "$rows" --ids "$RUN/ids-before.txt" --token "$RUN/token-before" --secret "$SECRET" \
    "${prepare_args[@]}")
  export BEFORE_TOKEN="$(cat "$RUN/token-before")" BEFORE_IDS="$RUN/ids-before.txt"
  export BEFORE_CMD="cd '$BEFORE_ROOT' && PATCHBAY_ENV=production PATCHBAY_DATABASE_URL='$BEFORE_URL' \
PATCHBAY_JWT_SECRET='$SECRET' PATCHBAY_LOG_LEVEL=info exec '$PY' -c \
'import sys; sys.path.insert(0, \".\"); from gateway.cli import main; sys.exit(main(sys.argv[1:]))' \
serve --port {port}"
  cat >> "$contenders" <<'TOML'

[[contender]]
name = "before"
label = "Patchbay at BEFORE_ROOT (an earlier commit)"
group = "ours"
cmd = "env:BEFORE_CMD"
token_env = "BEFORE_TOKEN"
path = "env:OURS_PATH|/graphql"
body = "env:OURS_BODY|{gql_body}"
ok = "env:OURS_OK|UpdatePromptSuccess"
verify = "env:OURS_VERIFY|pg"
ids = "env:BEFORE_IDS"
TOML
fi

if [ -n "${VARIANTS:-}" ]; then
  # This checkout again as contender "ours-NAME" for each NAME=SETTINGS (separated by `;`,
  # settings by spaces), with the same database, secret and token as ours: rounds interleave.
  [ "$contenders" != "$PEERS/contenders.toml" ] || {
    cp "$PEERS/contenders.toml" "$RUN/contenders-variants.toml"; contenders="$RUN/contenders-variants.toml"; }
  IFS=';' read -ra variants <<<"$VARIANTS"
  for variant in "${variants[@]}"; do
    name="${variant%%=*}" settings="${variant#*=}"
    var="VARIANT_${name//-/_}_CMD"
    export "$var=cd '$ROOT' && PATCHBAY_ENV=production PATCHBAY_DATABASE_URL='$URL' \
PATCHBAY_JWT_SECRET='$SECRET' PATCHBAY_LOG_LEVEL=info $settings exec .venv/bin/patchbay serve --port {port}"
    cat >> "$contenders" <<TOML

[[contender]]
name = "ours-$name"
label = "Patchbay with $settings"
group = "ours"
cmd = "env:$var"
token_env = "OURS_TOKEN"
path = "env:OURS_PATH|/graphql"
body = "env:OURS_BODY|{gql_body}"
ok = "env:OURS_OK|UpdatePromptSuccess"
verify = "env:OURS_VERIFY|pg"
ids = "env:OURS_IDS"
TOML
  done
fi

# Row updates on ours's database, and on before's when it runs: check_landed.py adds their ok.
count_updates() {
  local n; n=$("$PY" "$HERE/count_updates.py" "$URL")
  if [ -n "${BEFORE_URL:-}" ] && [ "$n" -ge 0 ]; then
    n=$((n + $("$PY" "$HERE/count_updates.py" "$BEFORE_URL")))
  fi
  echo "$n"
}
server_log="$PEERS/.run/server-ours.log"
log_offset=$(stat -c %s "$server_log" 2>/dev/null || echo 0)
if [ "$workload" = reads ]; then
  before=-1 after=-1  # nothing is written: no landed-writes check
  out="$RUN/result-$mode-reads-$rows.json"
else
  before=$(count_updates)
  out="$RUN/result-$mode-$rows.json"
fi
"$PEERS/peers.sh" --contenders "$contenders" --only "$only" --rounds "$rounds" --out "$out" \
  "${harness_args[@]}" "${extra[@]}"
[ "$workload" = reads ] || after=$(count_updates)
"$PY" "$HERE/check_landed.py" "$out" "$before" "$after"
warmup=3  # the harness's default; leave out as many seconds of access lines as it leaves out
for ((i = 0; i < ${#extra[@]}; i++)); do
  case "${extra[i]}" in
    --warmup) warmup="${extra[i + 1]:-3}" ;;
    --warmup=*) warmup="${extra[i]#--warmup=}" ;;
  esac
done
if [ -f "$server_log" ]; then  # Patchbay's own latency, without the load generator's
  "$PY" "$HERE/server_latency.py" "$server_log" --from-byte "$log_offset" --warmup "$warmup"
fi
