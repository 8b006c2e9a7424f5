#!/usr/bin/env python3
"""Container health probe: GET http://127.0.0.1:$PORT<path>, exit 0 on 2xx, 1 otherwise.

Usage: ``otd-healthcheck [/healthz|/readyz]``. Standard library only, so it runs in any
image of the cluster without extra packages. PORT comes from the environment; without
it, the default port of the service named by OTD_SERVICE (README.md) is used.
"""

from __future__ import annotations

import http.client
import os
import sys

DEFAULT_PORTS = {
    "order-service": 8001,
    "billing-service": 8002,
    "payment-gateway": 8003,
    "ledger-service": 8004,
    "recon-service": 8005,
    "channel-sandbox": 8010,
    "finance-console": 8080,
}
PROBE_TIMEOUT_S = 3.0
PROBE_HOST = "127.0.0.1"


def probe_port(environ: dict[str, str]) -> int:
    """The port to probe: $PORT, else the default of $OTD_SERVICE."""
    if environ.get("PORT"):
        return int(environ["PORT"])
    return DEFAULT_PORTS[environ.get("OTD_SERVICE", "")]


def probe(port: int, path: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True when the endpoint answers 2xx within the timeout."""
    connection = http.client.HTTPConnection(PROBE_HOST, port, timeout=timeout_s)
    try:
        connection.request("GET", path)
        status = connection.getresponse().status
    except OSError as exc:
        sys.stderr.write(f"health probe {path} on port {port} failed: {exc}\n")
        return False
    finally:
        connection.close()
    return 200 <= status < 300


def main(argv: list[str]) -> int:
    """Entry point; returns the process exit code."""
    path = argv[1] if len(argv) > 1 else "/healthz"
    try:
        port = probe_port(dict(os.environ))
    except (KeyError, ValueError):
        sys.stderr.write("set PORT or OTD_SERVICE to a known service\n")
        return 1
    return 0 if probe(port, path) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
