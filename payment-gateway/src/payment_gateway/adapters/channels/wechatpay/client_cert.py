"""Our WeChat Pay API client certificate (``apiclient_cert.pem``): mutual TLS for ``/secapi/``.

WeChat issues the merchant a certificate for its API key pair (``apiclient_cert.pem`` /
``apiclient_key.pem`` from the merchant platform; in our layout the key is
``merchant_private.pem``); calls under ``/secapi/`` (the micropay reverse) must present it in
the TLS handshake. Locally the launcher makes a self-signed dev certificate for the existing
merchant key (``ensure_dev_client_cert``); the channel sandbox trusts exactly that certificate
when its secapi listener runs TLS.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from otd_shared import keyfiles
from payment_gateway.adapters.channels.certificates import issue, pem_of
from payment_gateway.errors import ChannelKeyError

DEV_DAYS: Final = 730
DEV_ORGANIZATION: Final = "OTD Pay dev WeChat Pay merchant"
DEV_BACKDATE: Final = timedelta(days=1)  # valid on hosts whose clocks are a little behind


def dev_client_cert(directory: Path, *, now: datetime | None = None) -> x509.Certificate:
    """A fresh self-signed certificate of ``merchant_private.pem``, CN = ids.json mchid."""
    key = keyfiles.load_private_pem(directory / keyfiles.MERCHANT_PRIVATE_PEM)
    mchid = str(json.loads(keyfiles.read_small(directory / keyfiles.IDS_FILE))["mchid"])
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, mchid),
        ]
    )
    start = (now or datetime.now(UTC)).replace(microsecond=0) - DEV_BACKDATE
    return issue(
        subject=name, public_key=key.public_key(), issuer=name, issuer_key=key,
        serial=x509.random_serial_number(), not_before=start, days=DEV_DAYS, ca=False,
    )  # fmt: skip


def ensure_dev_client_cert(directory: Path) -> None:
    """Write ``apiclient_cert.pem`` for the directory's merchant key unless it exists."""
    path = directory / keyfiles.APICLIENT_CERT_PEM
    if path.exists():
        return
    try:
        certificate = dev_client_cert(directory)
    except (KeyError, ValueError, keyfiles.KeyFileError) as exc:
        raise ChannelKeyError(f"wechatpay: cannot make {path.name}: {exc}") from None
    keyfiles.create_exclusive(path, pem_of(certificate), keyfiles.PUBLIC_FILE_MODE)
