"""Prometheus metrics of the gateway, served at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["ACTIVE_STREAMS", "AUDIO_SECONDS", "MODEL_ERRORS", "MODEL_SECONDS", "REQUESTS", "REQUEST_SECONDS"]

REQUESTS = Counter("audiocore_http_requests_total", "HTTP requests", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "audiocore_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
MODEL_SECONDS = Histogram(
    "audiocore_model_request_duration_seconds",
    "TorchServe inference latency per model",
    ["model"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
MODEL_ERRORS = Counter("audiocore_torchserve_errors_total", "Failed TorchServe calls", ["model", "kind"])
ACTIVE_STREAMS = Gauge("audiocore_ws_active_streams", "Open /ws/asr streams")
AUDIO_SECONDS = Counter("audiocore_audio_seconds_total", "Audio seconds processed", ["endpoint"])
