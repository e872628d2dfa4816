"""The one HTTP client the gateway uses to reach TorchServe.

Requests carry raw PCM16 in a multipart part ``audio`` and options as JSON in
``params`` (see handlers/common/payload.py). Transport failures become domain
errors: connection refused -> ModelUnavailable (503), too slow -> ModelTimeout
(504), the handler's own 4xx -> InvalidRequest (400).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, NoReturn

import httpx

from gateway.app.services.metrics import MODEL_ERRORS, MODEL_SECONDS
from gateway.core.config import Settings
from gateway.core.context import request_id
from gateway.core.errors import InvalidAudio, InvalidRequest, ModelError, ModelTimeout, ModelUnavailable

__all__ = ["TorchServeClient"]

log = logging.getLogger(__name__)

# TorchServe answers 503 when a worker died or the queue is full, 507 when out of memory.
_UNAVAILABLE = {404, 503, 507}


class TorchServeClient:
    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._base = settings.TORCHSERVE_URL.rstrip("/")
        self._management = settings.TORCHSERVE_MANAGEMENT_URL.rstrip("/")
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.TORCHSERVE_TIMEOUT_SEC, connect=settings.TORCHSERVE_CONNECT_TIMEOUT_SEC),
            limits=httpx.Limits(
                max_connections=settings.TORCHSERVE_MAX_CONNECTIONS,
                max_keepalive_connections=settings.TORCHSERVE_MAX_CONNECTIONS,
            ),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def predict_pcm(self, model: str, pcm16: bytes, sample_rate: int, params: dict[str, Any]) -> dict[str, Any]:
        """Run ``model`` on mono PCM16 audio; return the handler's JSON answer."""
        response = await self._post(model, pcm16, sample_rate, params)
        return _json(model, response)

    async def predict_pcm_bytes(self, model: str, pcm16: bytes, sample_rate: int, params: dict[str, Any]) -> bytes:
        """Run ``model`` on mono PCM16 audio; return the handler's binary answer (e.g. WAV)."""
        response = await self._post(model, pcm16, sample_rate, params)
        if response.status_code != 200:
            _raise_for(model, response)
        return response.content

    async def _post(self, model: str, pcm16: bytes, sample_rate: int, params: dict[str, Any]) -> httpx.Response:
        body = {"format": "s16le", "sample_rate": sample_rate, **params}
        files: dict[str, tuple[str | None, bytes | str, str]] = {
            "audio": ("audio.pcm", pcm16, "application/octet-stream"),
            "params": (None, json.dumps(body), "application/json"),
        }
        url = f"{self._base}/predictions/{model}"
        started = time.perf_counter()
        try:
            response = await self._client.post(url, files=files, headers={"X-Request-ID": request_id.get()})
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


def _json(model: str, response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        _raise_for(model, response)
    try:
        result = response.json()
    except ValueError as exc:
        raise ModelError(f"model '{model}' sent an unreadable answer") from exc
    if not isinstance(result, dict):
        raise ModelError(f"model '{model}' sent an unexpected answer")
    return result


def _raise_for(model: str, response: httpx.Response) -> NoReturn:
    detail = _detail(response)
    if response.status_code == 400:
        raise (InvalidAudio if "audio" in detail or "PCM" in detail else InvalidRequest)(detail)
    if response.status_code in _UNAVAILABLE:
        raise ModelUnavailable(f"model '{model}' is not available")
    if response.status_code in (408, 504):
        raise ModelTimeout(f"model '{model}' did not answer in time")
    log.error("model %s answered %s: %s", model, response.status_code, detail)
    raise ModelError(f"model '{model}' failed")


def _detail(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(payload, dict):
        return str(payload.get("detail") or payload.get("message") or payload)[:200]
    return str(payload)[:200]
