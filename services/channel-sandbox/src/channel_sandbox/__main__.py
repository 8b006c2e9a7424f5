"""`python -m channel_sandbox [api]`: serve the sandbox on HOST:PORT (default 127.0.0.1:8010),
and WeChat's /secapi/ over mutual TLS on SANDBOX_SECAPI_TLS_PORT when set (`secapi_tls`)."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from channel_sandbox.app import create_app
from channel_sandbox.config import SandboxSettings
from channel_sandbox.secapi_tls import listener_config


def main() -> None:
    """Parse the command and serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="channel_sandbox", description=__doc__)
    parser.add_argument("command", nargs="?", default="api", choices=["api"])
    parser.parse_args()
    settings = SandboxSettings()
    app = create_app(settings)
    if settings.secapi_tls_port is None:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        return
    plain = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False
    )
    asyncio.run(_serve_both(uvicorn.Server(plain), uvicorn.Server(listener_config(app, settings))))


async def _serve_both(plain: uvicorn.Server, tls: uvicorn.Server) -> None:
    """The plain server (it runs the lifespan) and the secapi TLS listener on the same app;
    when either stops (a signal, a failure), both stop."""
    tasks = [asyncio.create_task(plain.serve()), asyncio.create_task(tls.serve())]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    plain.should_exit = tls.should_exit = True
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    main()
