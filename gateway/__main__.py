"""Run the gateway: ``python -m gateway`` (HOST, PORT and the WebSocket keepalive come from Settings)."""

from __future__ import annotations

import uvicorn

from gateway.app.logs import log_config
from gateway.core.config import get_settings


def main() -> None:
    s = get_settings()
    uvicorn.run(
        "gateway.app.main:create_app",
        factory=True,
        host=s.HOST,
        port=s.PORT,
        ws_ping_interval=s.WS_PING_INTERVAL_SEC,
        ws_ping_timeout=s.WS_PING_TIMEOUT_SEC,
        ws_max_size=s.STREAM_MAX_FRAME_BYTES,
        log_config=log_config(s.LOG_LEVEL),
    )


if __name__ == "__main__":
    main()
