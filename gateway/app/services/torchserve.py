"""The one HTTP client the gateway uses to reach TorchServe.

Requests follow ``wire.envelope`` (PCM16 part ``audio``, JSON part ``params``). A
handler's refusal carries a ``kind`` (``wire.errors``) and comes back as that same
WireError; TorchServe's own answers map by status: connection refused or a dead
worker -> ModelUnavailable (503), too slow -> ModelTimeout (504), body over its cap -> 413.

Model calls are idempotent, so an answer that says "no worker right now" (TorchServe
restarting a worker that died, a connection refused) is retried with backoff within
TORCHSERVE_RETRY_SEC: callers see a slower 200 instead of a 503.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, NoReturn

import httpx

from gateway.app.services.metrics import MODEL_ERRORS, MODEL_SECONDS
from gateway.core.config import Settings
from gateway.core.context import request_id
from gateway.core.errors import ModelError, ModelTimeout, ModelUnavailable
from wire.envelope import REQUEST_ID_HEADER, multipart_parts
from wire.errors import ErrorKind, WireError, parse_error_body
from wire.transcript import Transcription

__all__ = ["TorchServeClient"]

log = logging.getLogger(__name__)

# TorchServe answers 503 when a worker died or the queue is full, 507 when out of memory.
_UNAVAILABLE = {404, 503, 507}
_RETRYABLE = {500, 503, 507}  # 500 without a handler's kind: the worker process died mid-request
_BACKOFF_FIRST_SEC, _BACKOFF_MAX_SEC = 0.25, 4.0


class TorchServeClient:
    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._base = settings.TORCHSERVE_URL.rstrip("/")
        self._management = settings.TORCHSERVE_MANAGEMENT_URL.rstrip("/")
        self._retry_sec = settings.TORCHSERVE_RETRY_SEC
        self.max_body_bytes = settings.TORCHSERVE_MAX_BODY_BYTES
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.TORCHSERVE_TIMEOUT_SEC, connect=settings.TORCHSERVE_CONNECT_TIMEOUT_SEC),
            limits=httpx.Limits(
                max_connections=settings.TORCHSERVE_MAX_CONNECTIONS,
                max_keepalive_connections=settings.TORCHSERVE_MAX_CONNECTIONS,
            ),
            transport=transport,
            # behind ts_gate (a deployment) every call carries the token; on loopback (make up) none is needed
            headers={"Authorization": f"Bearer {settings.TORCHSERVE_TOKEN}"} if settings.TORCHSERVE_TOKEN else None,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def transcribe(self, model: str, pcm16: bytes, sample_rate: int, params: Mapping[str, Any]) -> Transcription:
        """Run a Whisper model on mono PCM16 audio."""
        answer = await self.predict_pcm(model, pcm16, sample_rate, params)
        try:
            return Transcription.from_dict(answer)
        except ValueError as exc:
            raise ModelError(f"model '{model}' sent a malformed transcript") from exc

    async def predict_pcm(
        self, model: str, pcm16: bytes, sample_rate: int, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Run ``model`` on mono PCM16 audio; return the handler's JSON answer."""
        response = await self._post(model, pcm16, sample_rate, params)
        try:
            result = response.json()
        except ValueError as exc:
            raise ModelError(f"model '{model}' sent an unreadable answer") from exc
        if not isinstance(result, dict):
            raise ModelError(f"model '{model}' sent an unexpected answer")
        return result

    async def predict_pcm_bytes(self, model: str, pcm16: bytes, sample_rate: int, params: Mapping[str, Any]) -> bytes:
        """Run ``model`` on mono PCM16 audio; return the handler's binary answer (e.g. WAV)."""
        return (await self._post(model, pcm16, sample_rate, params)).content

    async def _post(self, model: str, pcm16: bytes, sample_rate: int, params: Mapping[str, Any]) -> httpx.Response:
        """One model call, retried while TorchServe has no worker for it; a 200 or an exception."""
        if len(pcm16) > self.max_body_bytes:  # TorchServe would refuse it anyway, after the upload
            raise WireError(
                ErrorKind.TOO_LARGE, f"a model request of {len(pcm16)} bytes is over the model server's cap"
            )
        deadline = time.monotonic() + self._retry_sec
        delay = _BACKOFF_FIRST_SEC
        while True:
            try:
                response = await self._send(model, pcm16, sample_rate, params)
            except ModelUnavailable:
                if time.monotonic() + delay > deadline:
                    raise
            else:
                if response.status_code == 200:
                    return response
                error = parse_error_body(_payload(response))
                if error is not None:  # the handler answered: retrying the same request cannot help
                    if error.kind is ErrorKind.INTERNAL:
                        log.error("model %s failed: %s", model, error.detail)
                        raise ModelError(f"model '{model}' failed")
                    raise error
                if response.status_code not in _RETRYABLE or time.monotonic() + delay > deadline:
                    _raise_for(model, response)
            MODEL_ERRORS.labels(model, "retried").inc()
            await asyncio.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX_SEC)

    async def _send(self, model: str, pcm16: bytes, sample_rate: int, params: Mapping[str, Any]) -> httpx.Response:
        url = f"{self._base}/predictions/{model}"
        started = time.perf_counter()
        try:
            response = await self._client.post(
                url, files=multipart_parts(pcm16, sample_rate, params), headers={REQUEST_ID_HEADER: request_id.get()}
            )
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                MODEL_ERRORS.labels(model, "unreachable").inc()
                raise ModelUnavailable("model server is not reachable") from exc
            MODEL_ERRORS.labels(model, "timeout").inc()
            raise ModelTimeout(f"model '{model}' did not answer in time") from exc
        except httpx.TransportError as exc:
            MODEL_ERRORS.labels(model, "unreachable").inc()
            raise ModelUnavailable("model server is not reachable") from exc
        MODEL_SECONDS.labels(model).observe(time.perf_counter() - started)
        if response.status_code >= 500:
            MODEL_ERRORS.labels(model, str(response.status_code)).inc()
        return response

    async def model_status(self) -> dict[str, Any]:
        """Whether TorchServe answers and which models have a READY worker."""
        status: dict[str, Any] = {"torchserve": False, "models": {}}
        try:
            ping = await self._client.get(f"{self._base}/ping", timeout=5.0)
            status["torchserve"] = ping.status_code == 200
            listing = await self._client.get(f"{self._management}/models", timeout=5.0)
            for entry in listing.json().get("models", []):
                name = entry["modelName"]
                detail = await self._client.get(f"{self._management}/models/{name}", timeout=5.0)
                workers = detail.json()[0].get("workers", [])
                status["models"][name] = any(w.get("status") == "READY" for w in workers)
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
            log.warning("TorchServe status check failed: %s", type(exc).__name__)
        return status


def _payload(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _raise_for(model: str, response: httpx.Response) -> NoReturn:
    status = response.status_code
    if status == 413:
        raise WireError(ErrorKind.TOO_LARGE, "the audio is too large for one model request")
    if status in _UNAVAILABLE:
        raise ModelUnavailable(f"model '{model}' is not available")
    if status == 401:  # the gateway's TORCHSERVE_TOKEN is not the gate's: an operator's fix, not the caller's
        log.error("TorchServe's gate refused this gateway's token: check TORCHSERVE_TOKEN against TS_GATE_TOKEN")
        raise ModelUnavailable("model server refused this gateway")
    if status in (408, 504):
        raise ModelTimeout(f"model '{model}' did not answer in time")
    log.error("model %s answered %s: %s", model, status, response.text[:200])
    raise ModelError(f"model '{model}' failed")
