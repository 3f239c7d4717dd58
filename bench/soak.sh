#!/usr/bin/env bash
# Soak: Patchbay at full load for a while, its worker's memory sampled every 10 s.
#
#   bench/soak.sh                  # 300 s, variables in the document (cache hits)
#   bench/soak.sh --inline 300     # every request a new document (literals inlined): the caches
#                                  # must stay bounded, so memory must stay flat too
#
# Prints RSS over time and the growth from the first sample after warm-up to the last.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
RUN="$HERE/.run"
inline=0 seconds=300
while (($#)); do
  case "$1" in
    --inline) inline=1 ;;
    [0-9]*) seconds="$1" ;;
    *) echo "usage: $0 [--inline] [SECONDS]" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$RUN"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -x "$ROOT/.venv/bin/patchbay" ] || python3 "$ROOT/dev.py" install
SECRET="soak-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
URL="postgresql+asyncpg://postgres@127.0.0.1:5432/patchbay_soak"
su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS patchbay_soak WITH (FORCE)' -c 'CREATE DATABASE patchbay_soak'"
(cd "$ROOT" && .venv/bin/python bench/prepare.py --url "$URL" --rows 1000 --ids "$RUN/soak-ids.txt" \
  --token "$RUN/soak-token" --secret "$SECRET")

if [ "$inline" = 1 ]; then
  body='{"query":"mutation { updatePrompt(id: \"__ID__\", input: {description: \"__DESC__\"}) { __typename ... on UpdatePromptSuccess { prompt { id name updatedAt } } } }"}'
else
  body='{"query":"mutation U($id: ID!, $input: UpdatePromptInput!) { updatePrompt(id: $id, input: $input) { __typename ... on UpdatePromptSuccess { prompt { id name updatedAt } } } }","variables":{"id":"__ID__","input":{"description":"__DESC__"}}}'
fi
printf '%s' "$body" > "$RUN/soak-body.json"

port=18777
(cd "$ROOT" && PATCHBAY_ENV=production PATCHBAY_DATABASE_URL="$URL" PATCHBAY_JWT_SECRET="$SECRET" \
  exec taskset -c 0 .venv/bin/patchbay serve --port "$port" > "$RUN/soak-server.log" 2>&1) &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
pid=$(pgrep -f "patchbay serve --port $port" | head -n 1)
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }

lua="$RUN/peers/lua/mutation.lua"
[ -f "$lua" ] || lua="$ROOT/../shared/bench/lua/mutation.lua"
taskset -c 1 wrk -t1 -c32 -d"${seconds}s" --timeout 5s -s "$lua" "http://127.0.0.1:$port/" -- \
  "$RUN/soak-body.json" /graphql "$RUN/soak-ids.txt" UpdatePromptSuccess "$(cat "$RUN/soak-token")" \
  > "$RUN/soak-wrk.txt" &
load=$!
samples=()
sleep 20  # warm-up: caches and pools fill
while kill -0 "$load" 2>/dev/null; do samples+=("$(rss)"); sleep 10; done
wait "$load"
echo "RSS (KiB) every 10 s after a 20 s warm-up: ${samples[*]}"
first=${samples[0]} last=${samples[-1]} peak=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)
python3 - "$first" "$last" "$peak" "$RUN/soak-wrk.txt" <<'PY'
import json, re, sys
first, last, peak = map(int, sys.argv[1:4])
result = json.loads(re.search(r"^BENCH_JSON (.*)$", open(sys.argv[4]).read(), re.M).group(1))
errors = result["requests"] - result["ok"]
print(f"requests {result['requests']} ok {result['ok']} errors {errors} "
      f"p99 {result['lat_p99_us'] / 1000:.1f} ms; RSS {first} -> {last} KiB "
      f"({100 * (last - first) / first:+.1f}%), peak {peak} KiB")
sys.exit(0 if errors == 0 and last < first * 1.10 else 1)
PY
