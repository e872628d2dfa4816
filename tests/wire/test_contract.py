"""The gateway↔handler contract end to end, without a server: what the gateway sends is what a handler reads,
and what a handler refuses comes back to the gateway as the same error."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest

from gateway.app.api.errors import status_for
from gateway.app.services.torchserve import TorchServeClient
from gateway.core.config import Settings
from gateway.core.errors import ModelError
from handlers.common.base import run_batch
from tests.handlers.context import Context
from wire.audio import DecodeLimits
from wire.envelope import AUDIO_PART, PARAMS_PART, multipart_parts, read_request
from wire.errors import ErrorKind, WireError
from wire.options import DecodeOptions
from wire.pcm import from_pcm16, to_pcm16
from wire.transcript import Segment, Transcription, Word

LIMITS = DecodeLimits(max_seconds=60)


def _as_torchserve_item(parts: dict[str, tuple[str | None, bytes | str, str]]) -> dict[str, Any]:
    """What TorchServe hands a handler for a multipart request: each part's bytes under its name."""
    return {name: bytearray(body if isinstance(body, bytes) else body.encode()) for name, (_, body, _) in parts.items()}


@pytest.mark.parametrize(
    "options",
    [
        DecodeOptions(),
        DecodeOptions(language="ru", beam_size=1, word_timestamps=True, vad_filter=True, temperature=0.0),
        DecodeOptions(task="translate", initial_prompt="Привет, мир", fit_window=True, max_new_tokens=40),
    ],
)
def test_options_and_audio_arrive_as_sent(options: DecodeOptions) -> None:
    audio = np.sin(np.linspace(0, 400 * np.pi, 16000, dtype=np.float32)) * 0.3
    exact = from_pcm16(to_pcm16(audio))  # what PCM16 can carry
    item = _as_torchserve_item(multipart_parts(to_pcm16(audio), 16000, options.to_params()))
    request = read_request(item, LIMITS, 16000)
    np.testing.assert_array_equal(request.audio, exact)
    assert request.sample_rate == 16000
    assert DecodeOptions.parse(request.params) == options


@pytest.mark.parametrize(
    ("params", "kind"),
    [
        ({"beam_size": 11}, ErrorKind.INVALID_REQUEST),
        ({"language": "xx"}, ErrorKind.INVALID_REQUEST),
        ({"temperature": float("nan")}, ErrorKind.INVALID_REQUEST),
        ({"max_new_tokens": "9" * 5000}, ErrorKind.INVALID_REQUEST),
    ],
)
def test_options_out_of_bounds_are_refused_alike_on_both_sides(params: dict[str, Any], kind: ErrorKind) -> None:
    with pytest.raises(WireError) as handler_side:
        DecodeOptions.parse(params)
    assert handler_side.value.kind is kind
    typed = {k: v for k, v in params.items() if k != "max_new_tokens"}
    if typed:
        with pytest.raises(WireError) as gateway_side:
            DecodeOptions(**typed)
        assert gateway_side.value.kind is kind


def test_transcription_round_trips() -> None:
    result = Transcription(
        text="Hello.",
        language="en",
        language_probability=0.98,
        duration=2.5,
        model="whisper-base",
        task="transcribe",
        segments=[Segment(0, 0.0, 2.0, " Hello.", -0.2, 0.01, tokens=[1, 2], words=[Word(0.1, 0.6, " Hello.", 0.9)])],
        warnings=["skipped 1 damaged packet(s), about 0.03 s of audio"],
    )
    assert Transcription.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    with pytest.raises(ValueError, match="malformed"):
        Transcription.from_dict({"text": "x", "segments": [{"id": 0}]})


@pytest.mark.parametrize(
    ("item", "kind", "status"),
    [
        ({AUDIO_PART: bytearray(b"garbage"), PARAMS_PART: b"{}"}, ErrorKind.INVALID_AUDIO, 400),
        (
            {AUDIO_PART: bytearray(b"\x00\x00" * 16000 * 61), PARAMS_PART: b'{"format": "s16le"}'},
            ErrorKind.TOO_LONG,
            413,
        ),
        (
            {AUDIO_PART: bytearray(b"\x00\x00"), PARAMS_PART: b'{"format": "s16le", "sample_rate": "x"}'},
            ErrorKind.INVALID_REQUEST,
            400,
        ),
    ],
)
async def test_a_handler_refusal_reaches_the_gateway_as_the_same_error(
    item: dict[str, Any], kind: ErrorKind, status: int
) -> None:
    ctx = Context({}, model_dir=None)  # type: ignore[arg-type]
    [body] = run_batch([item], ctx, lambda it: read_request(it, LIMITS, 16000), lambda jobs: jobs)
    code, _ = ctx.statuses[0]

    def torchserve(_: httpx.Request) -> httpx.Response:
        return httpx.Response(code, json=body)

    client = TorchServeClient(Settings(TORCHSERVE_RETRY_SEC=0), transport=httpx.MockTransport(torchserve))
    try:
        with pytest.raises(WireError) as err:
            await client.predict_pcm("whisper", b"\x00\x00", 16000, {})
    finally:
        await client.aclose()
    assert err.value.kind is kind and err.value.detail == body["detail"]
    assert code == status and status_for(err.value) == status


async def test_a_handler_failure_is_502_at_once_and_a_dead_worker_is_retried() -> None:
    calls = {"failed": 0, "dead": 0}

    def torchserve(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/failing"):
            calls["failed"] += 1
            return httpx.Response(500, json={"detail": "inference failed", "kind": "internal"})
        calls["dead"] += 1  # TorchServe's own answer while it restarts a worker: no kind
        if calls["dead"] < 3:
            return httpx.Response(503, json={"code": 503, "message": "no worker"})
        return httpx.Response(200, json={"ok": True})

    client = TorchServeClient(Settings(TORCHSERVE_RETRY_SEC=5), transport=httpx.MockTransport(torchserve))
    try:
        with pytest.raises(ModelError):
            await client.predict_pcm("failing", b"\x00\x00", 16000, {})
        assert await client.predict_pcm("restarting", b"\x00\x00", 16000, {}) == {"ok": True}
    finally:
        await client.aclose()
    assert calls == {"failed": 1, "dead": 3}
