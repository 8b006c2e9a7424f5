"""UnionPay and Allinpay POS notifications through the reservation path (order QR → terminal
fetch → acquirer notification), at least 30 rejection cases per acquirer.

Each case posts one notification built and signed on the acquirer's side (the channel
sandbox's wire modules, and a test CA for UnionPay 5.1.0 certificates whose keys this module
holds) and asserts the answer (status, body, the reason stored with the raw request) AND that
nothing changed: every reservation of the module keeps its status and no PaymentCallback is
written. Verified notifications naming no open reservation (unknown, used, expired, another
terminal) are parked for review and answered as received, which also changes no payment.
"""

from __future__ import annotations

import secrets
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from channel_sandbox.channels import allinpay as sbx_allinpay
from channel_sandbox.channels import unionpay as sbx_unionpay
from channel_sandbox.channels.base import NotificationEvent, Outcome, RefundFacts
from channel_sandbox.keys import SandboxKeySet, load_channel_keys
from otd_shared.channel_wire import decode_form, rsa_sign_b64
from payment_gateway.adapters.offline_tables import parked_callbacks
from payment_gateway.adapters.tables import payments
from payment_gateway.testing.harness import Harness, auth

pytestmark = pytest.mark.integration
REJECTION_CASES_MIN = 30
AMOUNT_FEN = 123_456
UNIONPAY_CN = "中国银联股份有限公司"
UNIONPAY_OU = "00040000:SIGN"
Request = tuple[dict[str, str], bytes]


# ---------------------------------------------------------------- a test UnionPay CA


def _name(cn: str, ou: str = "test") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(
    subject: x509.Name,
    key: rsa.RSAPublicKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    *,
    serial: int,
    start: datetime,
    days: int,
    ca: bool,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class DevCa:
    """A root and an intermediate whose private keys we keep, to issue any leaf."""

    root_key: rsa.RSAPrivateKey
    middle_key: rsa.RSAPrivateKey
    root: x509.Certificate
    middle: x509.Certificate

    @classmethod
    def new(cls) -> DevCa:
        start = datetime.now(UTC) - timedelta(days=1)
        root_key, middle_key = _new_key(), _new_key()
        root_name, middle_name = _name("Test UnionPay Root"), _name("Test UnionPay Middle")
        root = _cert(
            root_name, root_key.public_key(), root_name, root_key,
            serial=1, start=start, days=3650, ca=True,
        )  # fmt: skip
        middle = _cert(
            middle_name, middle_key.public_key(), root_name, root_key,
            serial=2, start=start, days=1825, ca=True,
        )  # fmt: skip
        return cls(root_key, middle_key, root, middle)

    def leaf(
        self,
        key: rsa.RSAPublicKey,
        serial: int,
        *,
        cn: str = UNIONPAY_CN,
        start: datetime | None = None,
        days: int = 365,
    ) -> str:
        begin = start or datetime.now(UTC) - timedelta(days=1)
        return _pem(
            _cert(
                _name(cn, UNIONPAY_OU),
                key,
                self.middle.subject,
                self.middle_key,
                serial=serial,
                start=begin,
                days=days,
                ca=False,
            )  # fmt: skip
        )


# ---------------------------------------------------------------- fixtures


@dataclass
class Reservation:
    payment_id: str
    out_trade_no: str
    terminal_id: str
    amount_fen: int
    status: str


@dataclass
class Pos:
    """What the cases work from, for one acquirer."""

    channel: str
    keys: SandboxKeySet
    foreign: rsa.RSAPrivateKey
    ca: DevCa
    reserved: Reservation  # paying: every rejection must leave it so
    paid: Reservation  # settled by `paid_request`
    expired: Reservation  # paying, past its expiry
    other_terminal: str  # registered at the store for the same acquirer
    other_acquirer_order: str  # a reservation of the other acquirer
    paid_request: Request
    paid_txn_id: str

    def txn_id(self) -> str:
        if self.channel == "unionpay":
            return f"{secrets.randbelow(10**21):021d}"
        return f"2412{secrets.randbelow(10**16):016d}"

    def event(self, **changes: Any) -> NotificationEvent:
        extra = changes.pop("extra", {})
        terminal = TERMINAL_FIELDS[self.channel]
        base: dict[str, Any] = {
            "out_trade_no": self.reserved.out_trade_no,
            "channel_txn_id": self.txn_id(),
            "amount_fen": self.reserved.amount_fen,
            "extra_fields": {terminal: self.reserved.terminal_id, **extra},
        }
        return NotificationEvent(**(base | changes))

    def fields(self, **changes: Any) -> list[tuple[str, str]]:
        """The unsigned fields of a notification for the paying reservation."""
        event = self.event(**changes)
        now_s = int(time.time())
        if self.channel == "unionpay":
            return list(sbx_unionpay.notification_fields(self.keys, event, now_s).items())
        return list(sbx_allinpay.notification_fields(self.keys, event, now_s).items())

    def signed(self, pairs: list[tuple[str, str]], key: rsa.RSAPrivateKey | None = None) -> Request:
        keys = self.keys if key is None else replace(self.keys, channel_private_key=key)
        wire = sbx_unionpay if self.channel == "unionpay" else sbx_allinpay
        signed = wire.signed_form(keys, pairs)
        return dict(signed.headers), signed.body

    def genuine(self, **changes: Any) -> Request:
        return self.signed(self.fields(**changes))

    def with_fields(self, **changes: str | None) -> Request:
        """A genuine notification with fields replaced (None: removed), signed again."""
        pairs = [(k, v) for k, v in self.fields() if k not in changes]
        pairs += [(k, v) for k, v in changes.items() if v is not None]
        return self.signed(pairs)

    def with_cert(
        self, pem: str, *, key: rsa.RSAPrivateKey | None = None, **changes: str
    ) -> Request:
        """UnionPay 5.1.0 with `signPubKeyCert` (no certId unless given), signed again."""
        pairs = [(k, v) for k, v in self.fields() if k != "certId" and k not in changes]
        pairs += [("signPubKeyCert", pem), *changes.items()]
        return self.signed(pairs, key)


TERMINAL_FIELDS = {"unionpay": "termId", "allinpay": "termno"}
AMOUNT_FIELDS = {"unionpay": "txnAmt", "allinpay": "trxamt"}
ORDER_FIELDS = {"unionpay": "orderId", "allinpay": "cusorderid"}
SIGN_FIELDS = {"unionpay": "signature", "allinpay": "sign"}


@pytest.fixture(scope="module")
def pos_ca() -> DevCa:
    return DevCa.new()


@pytest.fixture(scope="module")
def pos_keys_dir(
    gateway_keys_dir: Path, pos_ca: DevCa, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The gateway's dev keys with a UnionPay chain whose CA keys this module holds."""
    directory = tmp_path_factory.mktemp("pos-keys") / "keys"
    shutil.copytree(gateway_keys_dir, directory)
    unionpay = directory / "unionpay"
    keys = load_channel_keys(directory, "unionpay")
    (unionpay / "root.pem").write_text(_pem(pos_ca.root))
    (unionpay / "middle.pem").write_text(_pem(pos_ca.middle))
    leaf = pos_ca.leaf(keys.channel_public_key, int(keys.id("certId")))
    (unionpay / "channel_cert.pem").write_text(leaf)
    return directory


@pytest.fixture(scope="module")
async def pos(make_harness: Any, pos_keys_dir: Path) -> AsyncIterator[Harness]:
    async with make_harness(keys_dir=pos_keys_dir) as h:
        yield h


async def _reserve(h: Harness, store: str, terminal: str, channel: str) -> Reservation:
    billing = await h.due_billing(stage="firm", amount_fen=AMOUNT_FEN * 4)
    qr = await h.client.post(
        "/v1/pos/order-qr",
        json={"billing_id": str(billing), "amount_fen": AMOUNT_FEN, "store_id": store},
        headers=auth("app-backend"),
    )
    assert qr.status_code == 201, qr.text
    charge = await h.client.post(
        "/v1/pos/charges",
        json={"token": qr.json()["token"], "terminal_id": terminal, "channel": channel},
        headers=auth("pos-integrator"),
    )
    assert charge.status_code == 201, charge.text
    body = charge.json()
    return Reservation(body["payment_id"], body["out_trade_no"], terminal, AMOUNT_FEN, "paying")


@pytest.fixture(scope="module")
async def setups(pos: Harness, pos_keys_dir: Path, pos_ca: DevCa) -> dict[str, Pos]:
    store = f"S{uuid.uuid4().hex[:6].upper()}"
    terminals = {
        "unionpay": (f"T-UP-{store}", f"T-UP2-{store}"),
        "allinpay": (f"T-AL-{store}", f"T-AL2-{store}"),
    }
    registered = {t: channel for channel, pair in terminals.items() for t in pair}
    put = await pos.client.put(
        f"/v1/pos/stores/{store}",
        json={"name": "Rejection store", "terminals": registered},
        headers=auth("sre"),
    )
    assert put.status_code == 200, put.text
    foreign = _new_key()
    made: dict[str, dict[str, Reservation]] = {}
    for channel, (terminal, _) in terminals.items():
        made[channel] = {
            kind: await _reserve(pos, store, terminal, channel)
            for kind in ("reserved", "paid", "expired")
        }
        async with pos.gw.sessions() as session, session.begin():
            await session.execute(
                sa.update(payments)
                .where(payments.c.payment_id == uuid.UUID(made[channel]["expired"].payment_id))
                .values(expires_at=sa.func.now() - sa.text("interval '1 minute'"))
            )
    result = {}
    for channel, (_, other_terminal) in terminals.items():
        other = "allinpay" if channel == "unionpay" else "unionpay"
        setup = Pos(
            channel=channel,
            keys=load_channel_keys(pos_keys_dir, channel),
            foreign=foreign,
            ca=pos_ca,
            reserved=made[channel]["reserved"],
            paid=made[channel]["paid"],
            expired=made[channel]["expired"],
            other_terminal=other_terminal,
            other_acquirer_order=made[other]["reserved"].out_trade_no,
            paid_request=({}, b""),
            paid_txn_id="",
        )
        txn = setup.txn_id()
        terminal = TERMINAL_FIELDS[channel]
        paid_request = setup.signed(
            setup.fields(
                out_trade_no=setup.paid.out_trade_no,
                channel_txn_id=txn,
                extra={terminal: setup.paid.terminal_id},
            )
        )
        answer = await pos.notify(channel, *paid_request)
        assert answer.status_code == 200, answer.text
        setup.paid.status = "succeeded"
        result[channel] = replace(setup, paid_request=paid_request, paid_txn_id=txn)
    return result


# ---------------------------------------------------------------- case helpers


def _replace_value(body: bytes, name: str, value: str) -> bytes:
    parts = []
    for segment in body.split(b"&"):
        key, _, _ = segment.partition(b"=")
        parts.append(key + b"=" + quote_plus(value).encode() if key == name.encode() else segment)
    return b"&".join(parts)


def _without(body: bytes, name: str) -> bytes:
    return b"&".join(s for s in body.split(b"&") if not s.startswith(name.encode() + b"="))


def raw_change(name: str, value: str) -> Case:
    """A genuine notification with one value changed after signing (a replay, altered)."""

    def case(p: Pos) -> Request:
        headers, body = p.genuine()
        return headers, _replace_value(body, name, value)

    return case


def resigned(**changes: str | None) -> Case:
    return lambda p: p.with_fields(**changes)


TIME_FIELDS = {"unionpay": "txnTime", "allinpay": "paytime"}


def tampered(p: Pos) -> Request:
    """A signed value changed after signing (the transaction time, a year earlier)."""
    headers, body = p.genuine()
    name = TIME_FIELDS[p.channel]
    moment = dict(decode_form(body, "utf-8"))[name]
    return headers, _replace_value(body, name, str(int(moment[:4]) - 1) + moment[4:])


def signature_altered(p: Pos) -> Request:
    """One character of the signature changed."""
    headers, body = p.genuine()
    name = SIGN_FIELDS[p.channel]
    sign = dict(decode_form(body, "utf-8"))[name]
    middle = len(sign) // 2
    changed = sign[:middle] + ("A" if sign[middle] != "A" else "B") + sign[middle + 1 :]
    return headers, _replace_value(body, name, changed)


def signature_of_other(p: Pos) -> Request:
    headers, body = p.genuine()
    _, other = p.genuine(amount_fen=p.reserved.amount_fen + 100)
    name = SIGN_FIELDS[p.channel]
    sign = dict(decode_form(other, "utf-8"))[name]
    return headers, _replace_value(body, name, sign)


def refund_of_unknown_refund(p: Pos) -> Request:
    refund = RefundFacts(
        out_refund_no="RUNKNOWN" + uuid.uuid4().hex[:16].upper(),
        refund_id=p.txn_id(),
        amount_fen=100,
    )
    return p.genuine(refund=refund, outcome=Outcome.REFUNDED)


def amount(delta_fen: int | None = None, value_fen: int | None = None) -> Case:
    def case(p: Pos) -> Request:
        fen = value_fen if value_fen is not None else p.reserved.amount_fen + (delta_fen or 0)
        return p.genuine(amount_fen=fen)

    return case


Case = Callable[[Pos], Request]
PARKED = "parked"  # answered as received, parked for review
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Expect:
    """The answer: HTTP status and the reason kept with the raw request."""

    status: int
    reason: str


def common_cases() -> dict[str, tuple[Case, Expect]]:
    """Cases both acquirers answer alike."""
    amount_mismatch = Expect(422, "amount_mismatch")
    return {
        "tampered_body": (tampered, Expect(401, "bad_signature")),
        "signature_altered": (signature_altered, Expect(401, "bad_signature")),
        "truncated_body": (
            lambda p: (p.genuine()[0], p.genuine()[1][:40]),
            Expect(400, "malformed"),
        ),
        "empty_body": (lambda p: (p.genuine()[0], b""), Expect(400, "malformed")),
        "garbage": (
            lambda p: (p.genuine()[0], b"\x00\xffnot a form\x01" * 8),
            Expect(400, "malformed"),
        ),
        "oversized_body": (
            lambda p: (p.genuine()[0], p.genuine()[1] + b"&pad=" + b"a" * 70_000),
            Expect(413, "body_too_large"),
        ),
        "signed_with_foreign_key": (
            lambda p: p.signed(p.fields(), p.foreign),
            Expect(401, "bad_signature"),
        ),
        "signed_with_merchant_key": (
            lambda p: p.signed(p.fields(), p.keys.require_merchant_private_key()),
            Expect(401, "bad_signature"),
        ),
        "signature_of_another_notification": (signature_of_other, Expect(401, "bad_signature")),
        "missing_signature": (
            lambda p: (p.genuine()[0], _without(p.genuine()[1], SIGN_FIELDS[p.channel])),
            Expect(400, "missing_field"),
        ),
        "signature_not_base64": (
            lambda p: raw_change(SIGN_FIELDS[p.channel], "@@@")(p),
            Expect(401, "bad_signature"),
        ),
        "replayed_with_changed_amount": (
            lambda p: raw_change(AMOUNT_FIELDS[p.channel], "1")(p),
            Expect(401, "bad_signature"),
        ),
        "replayed_with_other_order": (
            lambda p: raw_change(ORDER_FIELDS[p.channel], p.paid.out_trade_no)(p),
            Expect(401, "bad_signature"),
        ),
        "replayed_with_other_terminal": (
            lambda p: raw_change(TERMINAL_FIELDS[p.channel], p.other_terminal)(p),
            Expect(401, "bad_signature"),
        ),
        "amount_higher": (amount(1), amount_mismatch),
        "amount_lower": (amount(-1), amount_mismatch),
        "amount_zero": (amount(value_fen=0), amount_mismatch),
        "amount_huge": (amount(value_fen=AMOUNT_FEN * 1000), amount_mismatch),
        "failed_outcome_wrong_amount": (
            lambda p: p.genuine(amount_fen=p.reserved.amount_fen + 7, outcome=Outcome.FAILED),
            amount_mismatch,
        ),
        "amount_yuan": (
            lambda p: resigned(**{AMOUNT_FIELDS[p.channel]: "1234.56"})(p),
            Expect(400, "malformed"),
        ),
        "amount_negative": (
            lambda p: resigned(**{AMOUNT_FIELDS[p.channel]: "-123456"})(p),
            Expect(400, "malformed"),
        ),
        "amount_missing": (
            lambda p: resigned(**{AMOUNT_FIELDS[p.channel]: None})(p),
            Expect(400, "missing_field"),
        ),
        "order_missing": (
            lambda p: resigned(**{ORDER_FIELDS[p.channel]: None})(p),
            Expect(400, "missing_field"),
        ),
        "in_process_outcome": (
            lambda p: p.genuine(outcome=Outcome.PENDING),
            Expect(422, "outcome_pending"),
        ),
        "refund_of_unknown_refund": (refund_of_unknown_refund, Expect(404, "unknown_order")),
        # verified, but naming no open reservation: parked, never applied to a guessed order
        "unknown_reservation": (
            lambda p: p.genuine(out_trade_no="P" + uuid.uuid4().hex[:26].upper()),
            Expect(200, "parked_unknown_reservation"),
        ),
        "reservation_of_the_other_acquirer": (
            lambda p: p.genuine(out_trade_no=p.other_acquirer_order),
            Expect(200, "parked_unknown_reservation"),
        ),
        "used_reservation_other_voucher": (
            lambda p: p.genuine(
                out_trade_no=p.paid.out_trade_no,
                extra={TERMINAL_FIELDS[p.channel]: p.paid.terminal_id},
            ),
            Expect(200, "parked_used_reservation"),
        ),
        "expired_reservation": (
            lambda p: p.genuine(
                out_trade_no=p.expired.out_trade_no,
                extra={TERMINAL_FIELDS[p.channel]: p.expired.terminal_id},
            ),
            Expect(200, "parked_expired_reservation"),
        ),
        "wrong_terminal": (
            lambda p: p.genuine(extra={TERMINAL_FIELDS[p.channel]: p.other_terminal}),
            Expect(200, "parked_wrong_terminal"),
        ),
        "replayed_voucher": (lambda p: p.paid_request, Expect(200, DUPLICATE)),
    }


def _cert_id(p: Pos) -> int:
    return int(p.keys.id("certId"))


def unionpay_cases() -> dict[str, tuple[Case, Expect]]:
    untrusted = Expect(401, "untrusted_certificate")
    expired = Expect(401, "expired_certificate")
    wrong_subject = Expect(401, "wrong_certificate_subject")
    sign_type = Expect(401, "unsupported_sign_type")
    currency = Expect(422, "unsupported_currency")

    def self_signed(p: Pos) -> Request:
        name = _name(UNIONPAY_CN, UNIONPAY_OU)
        start = datetime.now(UTC) - timedelta(days=1)
        cert = _cert(
            name, p.keys.channel_public_key, name, p.keys.channel_private_key,
            serial=_cert_id(p), start=start, days=30, ca=False,
        )  # fmt: skip
        return p.with_cert(_pem(cert))

    def other_ca(p: Pos) -> Request:
        return p.with_cert(DevCa.new().leaf(p.keys.channel_public_key, _cert_id(p)))

    def leaf_of(**kw: Any) -> Case:
        return lambda p: p.with_cert(p.ca.leaf(p.keys.channel_public_key, _cert_id(p), **kw))

    def foreign_leaf_signed_by_channel(p: Pos) -> Request:
        return p.with_cert(p.ca.leaf(p.foreign.public_key(), _cert_id(p)))

    def genuine_cert(p: Pos) -> str:
        return p.ca.leaf(p.keys.channel_public_key, _cert_id(p))

    now = datetime.now(UTC)
    return {
        "cert_self_signed": (self_signed, untrusted),
        "cert_of_another_ca": (other_ca, untrusted),
        "cert_expired": (leaf_of(start=now - timedelta(days=400), days=365), expired),
        "cert_not_yet_valid": (leaf_of(start=now + timedelta(days=2)), expired),
        "cert_wrong_common_name": (leaf_of(cn="Some Other Bank Co"), wrong_subject),
        "cert_cfca_style_other_company": (leaf_of(cn="CFCA@041@Other Co@00000001"), wrong_subject),
        "cert_holding_another_key": (foreign_leaf_signed_by_channel, Expect(401, "bad_signature")),
        "cert_with_mismatching_cert_id": (
            lambda p: p.with_cert(genuine_cert(p), certId="69042905377"),
            Expect(401, "unknown_signing_key"),
        ),
        "cert_in_a_500_notification": (
            lambda p: p.with_cert(genuine_cert(p), version="5.0.0"),
            Expect(400, "malformed"),
        ),
        "cert_not_pem": (
            lambda p: p.with_cert("-----BEGIN CERTIFICATE-----\nAAAA\n"),
            Expect(400, "malformed"),
        ),
        "unknown_cert_id": (resigned(certId="69042905377"), Expect(401, "unknown_signing_key")),
        "no_cert_id_and_no_cert": (resigned(certId=None), Expect(400, "missing_field")),
        "version_400": (resigned(version="4.0.0"), sign_type),
        "sign_method_11": (resigned(signMethod="11"), sign_type),
        "version_500_with_a_510_signature": (
            raw_change("version", "5.0.0"),
            Expect(401, "bad_signature"),
        ),
        "foreign_mer_id": (resigned(merId="777290058000000"), Expect(403, "wrong_merchant")),
        "currency_usd": (resigned(currencyCode="840"), currency),
        "settle_currency_usd": (resigned(settleCurrencyCode="840"), currency),
        "unsupported_txn_type": (resigned(txnType="72"), Expect(422, "unsupported_status")),
        "encoding_latin1": (raw_change("encoding", "ISO-8859-1"), Expect(400, "bad_charset")),
        "encoding_missing": (
            lambda p: (p.genuine()[0], _without(p.genuine()[1], "encoding")),
            Expect(400, "missing_field"),
        ),
        "duplicate_field": (
            lambda p: (p.genuine()[0], p.genuine()[1] + b"&merId=777290058000000"),
            Expect(400, "duplicate_field"),
        ),
        "non_utf8_value": (
            lambda p: (p.genuine()[0], p.genuine()[1] + b"&reqReserved=%FF%FE"),
            Expect(400, "bad_charset"),
        ),
    }


def allinpay_cases() -> dict[str, tuple[Case, Expect]]:
    sign_type = Expect(401, "unsupported_sign_type")

    def sha256_instead_of_sha1(p: Pos) -> Request:
        headers, body = p.genuine()
        pairs = [(k, v) for k, v in decode_form(body, "utf-8") if k != "sign"]
        sign = rsa_sign_b64(p.keys.channel_private_key, sbx_allinpay.sign_content(pairs).encode())
        return headers, _replace_value(body, "sign", sign)

    return {
        "signtype_md5": (raw_change("signtype", "MD5"), sign_type),
        "signtype_sm2": (raw_change("signtype", "SM2"), sign_type),
        "signtype_md5_resigned": (resigned(signtype="MD5"), sign_type),
        "signed_sha256_instead_of_sha1": (sha256_instead_of_sha1, Expect(401, "bad_signature")),
        "foreign_appid": (resigned(appid="00009999"), Expect(403, "wrong_merchant")),
        "foreign_cusid": (resigned(cusid="550000000000001"), Expect(403, "wrong_merchant")),
        "missing_appid": (resigned(appid=None), Expect(400, "missing_field")),
        "unknown_status": (resigned(trxstatus="9999"), Expect(422, "outcome_pending")),
        "status_missing": (resigned(trxstatus=None), Expect(400, "missing_field")),
        "duplicate_field": (
            lambda p: (p.genuine()[0], p.genuine()[1] + b"&trxamt=1"),
            Expect(400, "duplicate_field"),
        ),
        "non_utf8_value": (
            lambda p: (
                p.genuine()[0],
                _replace_value(p.genuine()[1], "acct", "x").replace(b"acct=x", b"acct=%FF%FE"),
            ),
            Expect(400, "bad_charset"),
        ),
    }


CASES: dict[str, dict[str, tuple[Case, Expect]]] = {
    "unionpay": common_cases() | unionpay_cases(),
    "allinpay": common_cases() | allinpay_cases(),
}
CASE_IDS = [(channel, name) for channel, cases in CASES.items() for name in cases]
FAILURE_BODY = b"fail"
SUCCESS_BODIES = {"unionpay": b"ok", "allinpay": b"success"}


def test_each_acquirer_has_at_least_30_rejection_cases() -> None:
    for channel, cases in CASES.items():
        assert len(cases) >= REJECTION_CASES_MIN, (channel, len(cases))


async def _state(h: Harness, setups: dict[str, Pos]) -> dict[str, Any]:
    ids = [
        uuid.UUID(r.payment_id) for s in setups.values() for r in (s.reserved, s.paid, s.expired)
    ]
    outbox = h.runtime.tables.outbox
    async with h.gw.sessions() as session:
        statuses = dict(
            (
                await session.execute(
                    sa.select(payments.c.payment_id, payments.c.status).where(
                        payments.c.payment_id.in_(ids)
                    )
                )
            ).all()
        )
        callbacks = await session.scalar(
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(outbox.c.event_type == "PaymentCallback")
        )
    return {"statuses": statuses, "callbacks": callbacks}


async def _parked_count(h: Harness) -> int:
    async with h.gw.sessions() as session:
        return int(
            await session.scalar(sa.select(sa.func.count()).select_from(parked_callbacks)) or 0
        )


@pytest.mark.parametrize(("channel", "case"), CASE_IDS, ids=[f"{c}-{n}" for c, n in CASE_IDS])
async def test_pos_notification_refused_and_nothing_changes(
    pos: Harness, setups: dict[str, Pos], channel: str, case: str
) -> None:
    build, expect = CASES[channel][case]
    before, parked_before = await _state(pos, setups), await _parked_count(pos)
    assert sorted(before["statuses"].values()) == ["paying"] * 4 + ["succeeded"] * 2
    headers, body = build(setups[channel])
    response = await pos.notify(channel, headers, body)
    assert await _state(pos, setups) == before, "no payment moved, no PaymentCallback written"
    assert response.status_code == expect.status, (response.status_code, response.content)
    rows = await pos.callback_rows(channel=channel)
    if expect.status == 200:
        assert response.content == SUCCESS_BODIES[channel]
        assert rows[-1]["reason"] == (
            "already_succeeded" if expect.reason == DUPLICATE else expect.reason
        )
        parked_now = await _parked_count(pos)
        assert parked_now == parked_before + (0 if expect.reason == DUPLICATE else 1)
        return
    assert response.content == FAILURE_BODY
    assert rows[-1]["verdict"] == "rejected"
    assert rows[-1]["reason"] == expect.reason, case
    assert await _parked_count(pos) == parked_before


@pytest.mark.parametrize(
    ("options", "key_field"),
    [
        ({}, "signPubKeyCert"),  # what the sandbox sends: 5.1.0 with the dev CA's leaf
        ({"key_id": "certId"}, "certId"),
        ({"version": "5.0.0"}, "certId"),
    ],
    ids=["510_sign_pub_key_cert", "510_cert_id", "500_cert_id"],
)
async def test_unionpay_reservation_settles_with_either_key_form(
    harness: Harness, options: dict[str, str], key_field: str
) -> None:
    store = f"S{uuid.uuid4().hex[:6].upper()}"
    terminal = f"T-UP-{store}"
    put = await harness.client.put(
        f"/v1/pos/stores/{store}",
        json={"name": "Forms store", "terminals": {terminal: "unionpay"}},
        headers=auth("sre"),
    )
    assert put.status_code == 200, put.text
    reservation = await _reserve(harness, store, terminal, "unionpay")
    event = NotificationEvent(
        out_trade_no=reservation.out_trade_no,
        channel_txn_id=f"{secrets.randbelow(10**21):021d}",
        amount_fen=reservation.amount_fen,
        extra_fields={"termId": terminal},
    )
    signed = harness.sandbox.notification("unionpay", event, **options)
    fields = dict(decode_form(signed.body, "utf-8"))
    assert key_field in fields
    assert ("signPubKeyCert" in fields) == (key_field == "signPubKeyCert")
    answer = await harness.notify("unionpay", dict(signed.headers), signed.body)
    assert (answer.status_code, answer.content) == (200, b"ok")
    assert await harness.status_of(reservation.payment_id) == "succeeded"
    [event_out] = await harness.callbacks_events(reservation.payment_id)
    assert (event_out["outcome"], event_out["channel_txn_id"]) == (
        "succeeded",
        event.channel_txn_id,
    )
