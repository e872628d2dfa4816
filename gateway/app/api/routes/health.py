"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.app.api.deps import SettingsDep, TorchServeDep
from gateway.app.api.schemas import HealthResponse, ReadyResponse

router = APIRouter(tags=["Service"])


@router.head("/health", include_in_schema=False)  # load balancers probe with HEAD
@router.get("/health", response_model=HealthResponse)
async def health() -> HealthResponse:
    """Liveness: the gateway process answers (does not look at TorchServe); HEAD too, as load balancers probe."""
    return HealthResponse(status="ok")


@router.get("/ready", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
async def ready(torchserve: TorchServeDep, settings: SettingsDep) -> JSONResponse:
    """Readiness: TorchServe answers and every model the gateway uses has a ready worker."""
    status = await torchserve.model_status()
    needed = [settings.ASR_MODEL, settings.ENHANCER_MODEL, settings.SPEAKER_MODEL]
    ok = status["torchserve"] and all(status["models"].get(m) for m in needed)
    body = ReadyResponse(
        status="ready" if ok else "not_ready", torchserve=status["torchserve"], models=status["models"]
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics() -> Response:
    """Prometheus metrics: requests, latencies, model calls, open streams, audio seconds."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
