"""Whether tracing is on, decided by OpenTelemetry's own variables: an OTLP endpoint or
`OTEL_TRACES_EXPORTER` switches it on, `OTEL_SDK_DISABLED=true` keeps it off. Reading them
imports nothing of OpenTelemetry, so a gateway that does not trace never loads it."""

from __future__ import annotations

from collections.abc import Mapping

ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
EXPORTERS = ("otlp", "console")  # OTLP over HTTP (protobuf); console: spans on stdout


class TracingMisconfigured(ValueError):
    pass


def tracing_requested(environ: Mapping[str, str]) -> bool:
    if _value(environ, "OTEL_SDK_DISABLED") == "true":
        return False
    exporter = _value(environ, "OTEL_TRACES_EXPORTER")
    if exporter:
        return exporter != "none"
    return any(_value(environ, name) for name in ENDPOINTS)


def exporter_of(environ: Mapping[str, str]) -> str:
    """The exporter to build; a refusal in one line for what this gateway does not ship."""
    exporter = _value(environ, "OTEL_TRACES_EXPORTER") or "otlp"
    if exporter not in EXPORTERS:
        raise TracingMisconfigured(
            f"OTEL_TRACES_EXPORTER={exporter} is not supported: use otlp (OTLP over HTTP) "
            "or console"
        )
    protocol = next((_value(environ, name) for name in PROTOCOLS if _value(environ, name)), "")
    if exporter == "otlp" and protocol not in ("", "http/protobuf"):
        raise TracingMisconfigured(
            f"OTLP protocol {protocol} is not supported: Patchbay exports OTLP over HTTP "
            "(http/protobuf); point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's HTTP port "
            "(usually 4318)"
        )
    return exporter


def _value(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name, "").strip().lower()
