"""UnionPay signing certificates: the dev CA chain and the 5.1.0 ``signPubKeyCert`` check.

A 5.1.0 notification carries the certificate whose key signed it. We trust it only when it was
issued by the configured intermediate (``middle.pem``), which was issued by the configured
root (``root.pem``), each inside its validity period at the time of the check, the
certificate is inside its validity period, and its subject names UnionPay as the ACP SDK
checks it (``CertUtil.verifyCertificate``): the CN, or its third ``@``-separated part as in
production certificates, is ``中国银联股份有限公司``. A certificate rotation at UnionPay then
needs no change here.

Locally the launcher makes a dev chain under ``var/keys/unionpay/`` (``root.pem``,
``middle.pem``, and ``channel_cert.pem``: the leaf for ``channel_private.pem`` whose decimal
serial is ids.json ``certId``). The root and intermediate private keys are thrown away.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from payment_gateway.adapters.channels.certificates import issue, pem_of
from payment_gateway.errors import ChannelKeyError, Malformed, UnknownSigningKey

ROOT_PEM: Final = "root.pem"
MIDDLE_PEM: Final = "middle.pem"
LEAF_PEM: Final = "channel_cert.pem"
CHAIN_FILES: Final = (ROOT_PEM, MIDDLE_PEM, LEAF_PEM)
IDS_FILE: Final = "ids.json"
CHANNEL_PUBLIC_PEM: Final = "channel_public.pem"
SIGN_CERT_CN: Final = "中国银联股份有限公司"
SIGN_CERT_OU: Final = "00040000:SIGN"
CERT_PEM_LEN_MAX: Final = 8 * 1024
DEV_ROOT_DAYS: Final = 3650
DEV_MIDDLE_DAYS: Final = 1825
DEV_LEAF_DAYS: Final = 730
DEV_BACKDATE: Final = timedelta(days=1)
_RSA_BITS: Final = 2048


class UntrustedCertificate(UnknownSigningKey):
    """signPubKeyCert does not chain to the configured UnionPay root and intermediate."""

    reason_code_default = "untrusted_certificate"


class ExpiredCertificate(UnknownSigningKey):
    """signPubKeyCert (or its issuer) is outside its validity period."""

    reason_code_default = "expired_certificate"


class WrongCertificateSubject(UnknownSigningKey):
    """signPubKeyCert chains to the root but is not UnionPay's signing certificate."""

    reason_code_default = "wrong_certificate_subject"


@dataclass(frozen=True)
class TrustChain:
    """The configured UnionPay root and intermediate."""

    root: x509.Certificate
    middle: x509.Certificate

    @classmethod
    def of_pems(cls, pems: Mapping[str, bytes]) -> TrustChain | None:
        """The chain from the key set's certificate files, or None when it has none."""
        root, middle = pems.get(ROOT_PEM), pems.get(MIDDLE_PEM)
        if root is None or middle is None:
            return None
        try:
            return cls(x509.load_pem_x509_certificate(root), x509.load_pem_x509_certificate(middle))
        except ValueError:
            raise ChannelKeyError(f"unionpay: {ROOT_PEM} or {MIDDLE_PEM} is not PEM") from None


def load_pem_certificate(pem: str) -> x509.Certificate:
    """A certificate from a notification field (CRLF line breaks tolerated)."""
    if len(pem) > CERT_PEM_LEN_MAX:
        raise Malformed("signPubKeyCert is too long")
    try:
        return x509.load_pem_x509_certificate(pem.replace("\r\n", "\n").encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise Malformed("signPubKeyCert is not a PEM certificate") from None


def verify_sign_cert(
    certificate: x509.Certificate, chain: TrustChain, *, now: datetime
) -> rsa.RSAPublicKey:
    """The signing key of a certificate that chains to ``chain`` and is valid at ``now``."""
    for issued, issuer in ((certificate, chain.middle), (chain.middle, chain.root)):
        try:
            issued.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise UntrustedCertificate(
                "signPubKeyCert does not chain to the UnionPay root"
            ) from None
    for cert in (certificate, chain.middle, chain.root):
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise ExpiredCertificate("signPubKeyCert or its issuer is outside its validity")
    if not names_unionpay(certificate.subject):
        raise WrongCertificateSubject("signPubKeyCert is not UnionPay's signing certificate")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise UntrustedCertificate("signPubKeyCert does not hold an RSA key")
    return key


def names_unionpay(subject: x509.Name) -> bool:
    """The subject's CN is UnionPay's (whole, or the third ``@`` part of a CFCA-style CN)."""
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        return False
    common_name = names[0].value
    if isinstance(common_name, bytes):
        return False
    parts = common_name.split("@")
    identity = parts[2] if len(parts) > 2 else common_name
    return identity == SIGN_CERT_CN


# --- the dev chain ----------------------------------------------------------------------


def _name(common_name: str, unit: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OTD Pay dev UnionPay CA"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def leaf_name() -> x509.Name:
    """The subject of a UnionPay signing certificate."""
    return _name(SIGN_CERT_CN, SIGN_CERT_OU)


def dev_chain(
    channel_public_key: rsa.RSAPublicKey, cert_id: str, *, now: datetime | None = None
) -> tuple[x509.Certificate, x509.Certificate, x509.Certificate]:
    """(root, middle, leaf) of a fresh dev chain; the leaf's serial is ``cert_id``."""
    start = (now or datetime.now(UTC)) - DEV_BACKDATE
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
    middle_key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
    root_name = _name("OTD Pay dev UnionPay Root", "dev root")
    middle_name = _name("OTD Pay dev UnionPay Intermediate", "dev middle")
    root = issue(
        subject=root_name, public_key=root_key.public_key(), issuer=root_name,
        issuer_key=root_key, serial=x509.random_serial_number(), not_before=start,
        days=DEV_ROOT_DAYS, ca=True,
    )  # fmt: skip
    middle = issue(
        subject=middle_name, public_key=middle_key.public_key(), issuer=root_name,
        issuer_key=root_key, serial=x509.random_serial_number(), not_before=start,
        days=DEV_MIDDLE_DAYS, ca=True,
    )  # fmt: skip
    leaf = issue(
        subject=leaf_name(), public_key=channel_public_key, issuer=middle_name,
        issuer_key=middle_key, serial=int(cert_id), not_before=start, days=DEV_LEAF_DAYS,
        ca=False,
    )  # fmt: skip
    return root, middle, leaf


def ensure_dev_chain(directory: Path) -> None:
    """Write root.pem, middle.pem and channel_cert.pem (serial = ids.json certId, key =
    channel_public.pem) unless all three exist; existing chains are kept between runs."""
    if all((directory / name).is_file() for name in CHAIN_FILES):
        return
    cert_id = str(json.loads((directory / IDS_FILE).read_text())["certId"])
    public = serialization.load_pem_public_key((directory / CHANNEL_PUBLIC_PEM).read_bytes())
    if not isinstance(public, rsa.RSAPublicKey):
        raise ChannelKeyError(f"unionpay: {CHANNEL_PUBLIC_PEM} is not an RSA key")
    for name, certificate in zip(CHAIN_FILES, dev_chain(public, cert_id), strict=True):
        temp = directory / f".{name}.tmp"
        temp.write_bytes(pem_of(certificate))
        os.replace(temp, directory / name)
