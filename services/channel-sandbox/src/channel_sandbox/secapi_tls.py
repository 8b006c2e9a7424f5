"""The TLS listener of WeChat's ``/secapi/`` calls: mutual TLS with the merchant's certificate.

WeChat serves ``/secapi/pay/reverse`` only to a client that presents the merchant's API client
certificate. With ``SANDBOX_SECAPI_TLS_PORT`` the sandbox plays that: a second uvicorn server
for the same app (same state) on that port, TLS with its own server certificate
(``SANDBOX_TLS_CERT_FILE`` / ``SANDBOX_TLS_KEY_FILE``), requiring a client certificate that
verifies against the merchant certificate the channel knows, ``wechatpay/apiclient_cert.pem``
in its key directory (its own trust: the handshake fails without a certificate or with
another one). The plain listener then answers ``/secapi/`` with ``return_code=FAIL``.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Final

import uvicorn
from fastapi import FastAPI, Request

from channel_sandbox.config import SandboxSettings
from otd_shared.keyfiles import APICLIENT_CERT_PEM

SECAPI_PREFIX: Final = "/secapi/"
WECHATPAY: Final = "wechatpay"


class SecapiTlsError(Exception):
    """The TLS listener cannot start (no merchant certificate to trust)."""


def merchant_certificate(settings: SandboxSettings) -> Path:
    """The merchant API client certificate the listener trusts."""
    path = settings.keys_dir / WECHATPAY / APICLIENT_CERT_PEM
    if not path.is_file():
        raise SecapiTlsError(f"{path} is missing: the merchant's API client certificate")
    return path


def listener_config(app: FastAPI, settings: SandboxSettings) -> uvicorn.Config:
    """uvicorn settings of the TLS listener (no lifespan: the plain server runs it)."""
    if settings.secapi_tls_port is None or not settings.tls_cert_file or not settings.tls_key_file:
        raise SecapiTlsError("SANDBOX_SECAPI_TLS_PORT and the TLS certificate files are unset")
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.secapi_tls_port,
        ssl_certfile=settings.tls_cert_file,
        ssl_keyfile=settings.tls_key_file,
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        ssl_ca_certs=str(merchant_certificate(settings)),
        lifespan="off",
        log_config=None,
        access_log=False,
        ws="none",
    )


def refused_in_plain(request: Request, settings: SandboxSettings) -> bool:
    """A /secapi/ call that came over the plain listener while the TLS one serves them."""
    return (
        settings.secapi_tls_port is not None
        and request.url.path.startswith(SECAPI_PREFIX)
        and request.url.scheme != "https"
    )
