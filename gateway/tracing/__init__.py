"""OpenTelemetry tracing: off unless the standard OTEL_* variables switch it on, and then a
server span per request, database spans per statement and one span per GraphQL operation
(see docs/tracing.md). Nothing here is imported while tracing is off."""
