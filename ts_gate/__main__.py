"""Run the gate; with ``-- COMMAND...`` also run TorchServe as its child and stop with it.

    TS_GATE_TOKEN=... python -m ts_gate -- torchserve --start --foreground ...

Settings (environment): TS_GATE_TOKEN (required), TS_GATE_HOST (0.0.0.0), TS_GATE_PORT (8080),
TS_GATE_INFERENCE_URL (http://127.0.0.1:7080), TS_GATE_MANAGEMENT_URL (http://127.0.0.1:7081).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys

import uvicorn

from ts_gate.app import create_app


async def serve(argv: list[str]) -> int:
    app = create_app(
        os.environ.get("TS_GATE_TOKEN", ""),
        os.environ.get("TS_GATE_INFERENCE_URL", "http://127.0.0.1:7080"),
        os.environ.get("TS_GATE_MANAGEMENT_URL", "http://127.0.0.1:7081"),
    )
    config = uvicorn.Config(
        app,
        # the container's door: TorchServe itself stays on loopback
        host=os.environ.get("TS_GATE_HOST", "0.0.0.0"),
        port=int(os.environ.get("TS_GATE_PORT", "8080")),
        log_level="warning",
        server_header=False,
    )
    server = uvicorn.Server(config)
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    if not command:
        await server.serve()
        return 0
    child = await asyncio.create_subprocess_exec(*command)
    gate = asyncio.create_task(server.serve())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # the container stops: stop TorchServe too
        loop.add_signal_handler(sig, child.terminate)
    code = await child.wait()  # TorchServe ended: so does the container, and its restart policy acts
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await gate
    return code


def main() -> None:
    try:
        sys.exit(asyncio.run(serve(sys.argv[1:])))
    except ValueError as exc:  # a missing or placeholder token: refuse to start
        sys.exit(f"ts_gate: {exc}")


if __name__ == "__main__":
    main()
