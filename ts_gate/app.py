"""The proxy itself: token check, an allow-list of routes, bodies streamed through unbuffered."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from wire.gate import check_gate_token

__all__ = ["create_app"]

# hop-by-hop headers (RFC 9110 7.6.1) and the ones this proxy sets itself
_DROP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "content-length",
}


def create_app(
    token: str, inference_url: str, management_url: str, transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    expected = f"Bearer {check_gate_token(token)}".encode()
    client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=5.0), transport=transport)

    def allowed(request: Request) -> bool:
        return hmac.compare_digest(request.headers.get("authorization", "").encode(), expected)

    async def forward(request: Request, base: str) -> Response:
        if not allowed(request):
            return JSONResponse(
                {"code": 401, "type": "Unauthorized", "message": "missing or wrong bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        url = base.rstrip("/") + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
        body = request.stream() if request.method == "POST" else None
        try:
            upstream = await client.send(
                client.build_request(request.method, url, headers=headers, content=body), stream=True
            )
        except httpx.HTTPError:
            return JSONResponse({"code": 502, "type": "BadGateway", "message": "TorchServe is not answering"}, 502)
        return StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            headers={k: v for k, v in upstream.headers.items() if k.lower() not in _DROP},
            background=BackgroundTask(upstream.aclose),
        )

    async def predictions(request: Request) -> Response:
        return await forward(request, inference_url)

    async def models(request: Request) -> Response:
        return await forward(request, management_url)

    async def ping(_: Request) -> Response:
        try:
            up = (await client.get(f"{inference_url.rstrip('/')}/ping", timeout=5.0)).status_code == 200
        except httpx.HTTPError:
            up = False
        return JSONResponse({"status": "Healthy" if up else "Unhealthy"}, status_code=200 if up else 503)

    async def not_here(request: Request) -> Response:
        return JSONResponse({"code": 404, "type": "NotFound", "message": "not served here"}, status_code=404)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/predictions/{model}", predictions, methods=["POST"]),
        Route("/models", models, methods=["GET"]),
        Route("/models/{model}", models, methods=["GET"]),
        Route("/{rest:path}", not_here, methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
