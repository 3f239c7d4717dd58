#!/usr/bin/env bash
# What tracing costs: CPU per request of the in-process update (bench/inprocess.py) with
# tracing off, then on (OTLP/HTTP to a local receiver), every request sampled and one in ten
# (OTEL_TRACES_SAMPLER=traceidratio), on SQLite. CPU time counts the exporter's thread too.
#
#     bench/tracing_overhead.sh [REQUESTS]
#
# Off must match a build without tracing within noise: nothing of OpenTelemetry is imported
# then (tests/test_tracing.py checks that). Run it on a quiet machine for figures.
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-20000}"
py=.venv/bin/python
dir="$(mktemp -d)"
trap 'kill "${receiver:-0}" 2>/dev/null || true; rm -rf "$dir"' EXIT
secret="$(openssl rand -base64 32)"
url="sqlite+aiosqlite:///$dir/bench.db"
$py bench/prepare.py --url "$url" --rows 1000 --ids "$dir/ids" --token "$dir/token" \
  --secret "$secret" >/dev/null
$py - "$dir/endpoint" <<'PY' &
import sys, time
from tests.otlp_receiver import otlp_receiver
with otlp_receiver() as (endpoint, received):
    open(sys.argv[1], "w").write(endpoint)
    while True:
        time.sleep(1)
        received.requests.clear()  # keep nothing: the collector's side is not measured
PY
receiver=$!
until [ -s "$dir/endpoint" ]; do sleep 0.1; done
run() { $py bench/inprocess.py --url "$url" --token "$dir/token" --ids "$dir/ids" \
  --secret "$secret" --requests "$requests"; }
for round in 1 2; do  # interleaved, twice: a loaded machine drifts
  echo "off: $(unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_TRACES_EXPORTER; run)"
  echo "on:  $(OTEL_EXPORTER_OTLP_ENDPOINT="$(cat "$dir/endpoint")" run)"
  echo "on, 1 in 10 sampled: $(OTEL_EXPORTER_OTLP_ENDPOINT="$(cat "$dir/endpoint")" \
    OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.1 run)"
done
