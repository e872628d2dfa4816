"""Settings that only make sense together fail at start-up, naming what to change."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.core.config import SAMPLE_RATE, Settings


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"MIC_DEFAULT_SEC": 60, "MIC_MAX_SEC": 30}, "MIC_DEFAULT_SEC must not exceed MIC_MAX_SEC"),
        ({"STREAM_TRIM_SEC": 20, "ASR_WINDOW_SEC": 15}, "STREAM_TRIM_SEC must not exceed ASR_WINDOW_SEC"),
        ({"ASR_WINDOW_SEC": 20, "STREAM_MAX_BUFFER_SEC": 10}, "ASR_WINDOW_SEC must not exceed STREAM_MAX_BUFFER_SEC"),
        # the k8s Secret's placeholders, and secrets short enough to guess, stop the gateway
        ({"TORCHSERVE_TOKEN": "change-me-torchserve-token-0000000000"}, "TORCHSERVE_TOKEN is the shipped placeholder"),
        ({"TORCHSERVE_TOKEN": "abc123"}, "TORCHSERVE_TOKEN must be at least 24 characters"),
        ({"WEBHOOK_SECRET": "change-me-webhook-secret"}, "WEBHOOK_SECRET must be at least 16 characters and not"),
        ({"WEBHOOK_SECRET": "short"}, "WEBHOOK_SECRET must be at least 16 characters"),
    ],
)
def test_inconsistent_limits_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**values)


def test_the_model_rate_is_not_a_setting() -> None:
    assert SAMPLE_RATE == 16000 and "SAMPLE_RATE" not in Settings.model_fields
