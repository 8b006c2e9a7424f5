"""Statement downloads from the channels over HTTP (httpx): WeChat Pay's trade bill API,
UnionPay's file transfer, Lakala's (assumed) bill download. Formats: docs/channel-formats.md
(WeChat trade bill, UnionPay file transfer); the Lakala API is an assumption (docs/recon.md).

Every fetcher answers a ``FetchedBill`` or raises ``NoBill`` (the channel says there is no
bill for the day: not an error to retry today) or ``FetchFailed`` (``retryable`` for network
errors, timeouts and 5xx). Requests are signed with our merchant key; WeChat's and Lakala's
JSON answers are verified with the channel's public key (the WeChat download itself is
unsigned, as the channel's is: its SHA-1 ``hash_value`` is checked instead).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final, Protocol
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from otd_shared.channel_wire import (
    decode_form,
    encode_form,
    format_auth_params,
    new_nonce,
    rsa_sign_b64,
    rsa_verify_b64,
)
from otd_shared.keyfiles import load_private_pem, load_public_pem, read_small

WECHAT_SCHEME: Final = "WECHATPAY2-SHA256-RSA2048"
LAKALA_SCHEME: Final = "LKLAPI-SHA256withRSA"
WECHAT_NO_BILL_CODES: Final = frozenset({"NO_STATEMENT_EXIST", "NO_BILL_EXIST", "BILL_NOT_EXIST"})
NO_BILL_TEXT: Final = "No Bill Exist"
LAKALA_OK: Final = "BBS00000"
LAKALA_NO_BILL: Final = "BBS11112"
UNIONPAY_OK: Final = "00"
UNIONPAY_NO_FILE: Final = "98"
BILL_MAX_BYTES: Final = 64 * 1024 * 1024
ANSWER_TEXT_MAX_CHARS: Final = 200


@dataclass(frozen=True)
class FetchedBill:
    """A downloaded statement file as the channel gave it."""

    content: bytes
    filename: str
    sha1: str | None = None  # WeChat: SHA-1 of the uncompressed bill, checked before loading


class NoBill(Exception):  # noqa: N818  (a normal answer, not an error)
    """The channel has no bill for the day (no trades, or not generated yet)."""


class FetchFailed(Exception):
    """A download that failed; ``retryable`` for network errors, timeouts and 5xx."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class BillFetcher(Protocol):
    """One channel's statement download."""

    source: str

    async def fetch(self, client: httpx.AsyncClient, day: date) -> FetchedBill:
        """The statement of ``day`` (Asia/Shanghai)."""
        ...


@dataclass(frozen=True)
class MerchantKeys:
    """Our merchant key and the channel's public key and ids (the dev key layout)."""

    merchant_private_key: rsa.RSAPrivateKey
    channel_public_key: rsa.RSAPublicKey
    ids: Mapping[str, str]

    @classmethod
    def load(cls, keys_dir: Path, channel: str) -> MerchantKeys:
        """``<keys_dir>/<channel>/{merchant_private,channel_public}.pem`` and ``ids.json``."""
        folder = keys_dir / channel
        ids = json.loads(read_small(folder / "ids.json"))
        return cls(
            load_private_pem(folder / "merchant_private.pem"),
            load_public_pem(folder / "channel_public.pem"),
            {str(k): str(v) for k, v in ids.items()},
        )


def _now_s() -> int:
    return int(time.time())


async def _send(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    try:
        response = await client.send(request)
    except httpx.HTTPError as exc:
        raise FetchFailed(f"{type(exc).__name__}: {exc}", retryable=True) from None
    if response.status_code >= 500 or response.status_code == 429:
        raise FetchFailed(f"HTTP {response.status_code}", retryable=True)
    if len(response.content) > BILL_MAX_BYTES:
        raise FetchFailed(f"the answer exceeds {BILL_MAX_BYTES} bytes", retryable=False)
    return response


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        found = json.loads(response.content)
    except ValueError:
        raise FetchFailed("the answer is not JSON", retryable=False) from None
    if not isinstance(found, dict):
        raise FetchFailed("the answer is not a JSON object", retryable=False)
    return found


# ---------------------------------------------------------------- WeChat Pay


class WechatTradeBill:
    """``GET /v3/bill/tradebill`` → ``download_url`` → the gzip bill, SHA-1 checked."""

    source = "wechatpay"

    def __init__(self, base_url: str, keys: MerchantKeys) -> None:
        self._base = base_url.rstrip("/")
        self._keys = keys

    async def fetch(self, client: httpx.AsyncClient, day: date) -> FetchedBill:
        """The ALL bill of the day, gzip."""
        target = f"/v3/bill/tradebill?bill_date={day.isoformat()}&bill_type=ALL&tar_type=GZIP"
        answer = await _send(client, self._signed_get(self._base + target))
        self._verify(answer)
        body = _json(answer) if answer.content else {}
        if answer.status_code != 200:
            raise _wechat_error(answer.status_code, body)
        url, sha1 = body.get("download_url"), body.get("hash_value")
        if not isinstance(url, str) or not isinstance(sha1, str):
            raise FetchFailed("tradebill answer without download_url/hash_value", retryable=False)
        download = await _send(client, self._signed_get(url))
        if download.status_code != 200:
            raise _wechat_error(download.status_code, _lenient_json(download.content))
        if _looks_like_error(download.content):
            raise _wechat_error(400, _lenient_json(download.content))
        return FetchedBill(download.content, f"wechatpay_{day:%Y%m%d}_ALL.csv.gz", sha1.lower())

    def _signed_get(self, url: str) -> httpx.Request:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        timestamp, nonce = str(_now_s()), new_nonce()
        message = f"GET\n{target}\n{timestamp}\n{nonce}\n\n".encode()
        signature = rsa_sign_b64(self._keys.merchant_private_key, message)
        params = (
            ("mchid", self._keys.ids["mchid"]),
            ("nonce_str", nonce),
            ("signature", signature),
            ("timestamp", timestamp),
            ("serial_no", self._keys.ids["merchant_serial"]),
        )
        headers = {
            "Authorization": f"{WECHAT_SCHEME} {format_auth_params(params)}",
            "Accept": "application/json",
        }
        return httpx.Request("GET", url, headers=headers)

    def _verify(self, answer: httpx.Response) -> None:
        h = answer.headers
        message = (
            f"{h.get('Wechatpay-Timestamp', '')}\n{h.get('Wechatpay-Nonce', '')}\n".encode()
            + answer.content
            + b"\n"
        )
        signature = h.get("Wechatpay-Signature", "")
        if not rsa_verify_b64(self._keys.channel_public_key, signature, message):
            raise FetchFailed("the tradebill answer's signature does not verify", retryable=False)


def _lenient_json(content: bytes) -> dict[str, object]:
    try:
        found = json.loads(content)
    except ValueError:
        return {"message": content[:ANSWER_TEXT_MAX_CHARS].decode("utf-8", "replace")}
    return found if isinstance(found, dict) else {}


def _looks_like_error(content: bytes) -> bool:
    """An error body where a bill was due: JSON ``{"code":…}`` or v2 XML ``<return_code>``."""
    head = content[:512].lstrip()
    return head.startswith(b"{") or head.startswith(b"<xml") or NO_BILL_TEXT.encode() in head


def _wechat_error(status: int, body: Mapping[str, object]) -> Exception:
    code, message = str(body.get("code", "")), str(body.get("message", ""))[:ANSWER_TEXT_MAX_CHARS]
    if code in WECHAT_NO_BILL_CODES or NO_BILL_TEXT.lower() in message.lower():
        return NoBill(f"WeChat: {code} {message}".strip())
    return FetchFailed(f"WeChat HTTP {status}: {code} {message}".strip(), retryable=status >= 500)


# ---------------------------------------------------------------- UnionPay


class UnionPayFileTransfer:
    """File transfer (``txnType=76``): Base64 of the DEFLATE-compressed zip."""

    source = "unionpay"

    def __init__(self, url: str, keys: MerchantKeys) -> None:
        self._url = url
        self._keys = keys

    async def fetch(self, client: httpx.AsyncClient, day: date) -> FetchedBill:
        """The ZM zip of the settle day."""
        fields = {
            "version": "5.1.0", "encoding": "UTF-8", "txnType": "76", "txnSubType": "01",
            "bizType": "000000", "accessType": "0", "fileType": "00", "signMethod": "01",
            "merId": self._keys.ids["merId"], "settleDate": f"{day:%m%d}",
            "txnTime": time.strftime("%Y%m%d%H%M%S"),
        }  # fmt: skip
        body = encode_form(sorted(fields.items()))
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        answer = await _send(
            client, httpx.Request("POST", self._url, content=body, headers=headers)
        )
        if answer.status_code != 200:
            raise FetchFailed(f"UnionPay HTTP {answer.status_code}", retryable=False)
        form = dict(decode_form(answer.content))
        code = form.get("respCode", "")
        if code == UNIONPAY_NO_FILE:
            raise NoBill(f"UnionPay: {code} {form.get('respMsg', '')}")
        if code != UNIONPAY_OK:
            raise FetchFailed(
                f"UnionPay respCode {code} {form.get('respMsg', '')}", retryable=False
            )
        try:
            archive = zlib.decompress(base64.b64decode(form.get("fileContent", ""), validate=True))
        except (binascii.Error, zlib.error, ValueError):
            raise FetchFailed(
                "UnionPay fileContent is not Base64 DEFLATE", retryable=False
            ) from None
        return FetchedBill(archive, form.get("fileName") or f"unionpay_{day:%Y%m%d}.zip")


# ---------------------------------------------------------------- Lakala (assumed)


class LakalaBillDownload:
    """``POST /api/v3/labs/bill/download`` (ASSUMED): the CSV in ``resp_data.file_content``."""

    source = "lakala"

    def __init__(self, base_url: str, keys: MerchantKeys) -> None:
        self._url = base_url.rstrip("/") + "/api/v3/labs/bill/download"
        self._keys = keys

    async def fetch(self, client: httpx.AsyncClient, day: date) -> FetchedBill:
        """The CSV of the day."""
        req = {"merchant_no": self._keys.ids["merchant_no"], "bill_date": f"{day:%Y%m%d}"}
        envelope = {"req_time": time.strftime("%Y%m%d%H%M%S"), "version": "3.0", "req_data": req}
        body = json.dumps(envelope, separators=(",", ":")).encode()
        headers = {"Authorization": self._authorization(body), "Content-Type": "application/json"}
        answer = await _send(
            client, httpx.Request("POST", self._url, content=body, headers=headers)
        )
        self._verify(answer)
        data = _json(answer)
        code = str(data.get("code", ""))
        if code == LAKALA_NO_BILL:
            raise NoBill(f"Lakala: {code} {data.get('msg', '')}")
        resp = data.get("resp_data")
        if code != LAKALA_OK or not isinstance(resp, dict):
            raise FetchFailed(f"Lakala {code} {data.get('msg', '')}", retryable=False)
        try:
            content = base64.b64decode(str(resp.get("file_content", "")), validate=True)
        except (binascii.Error, ValueError):
            raise FetchFailed("Lakala file_content is not Base64", retryable=False) from None
        if resp.get("sha256") and hashlib.sha256(content).hexdigest() != resp["sha256"]:
            raise FetchFailed("Lakala file does not match its sha256", retryable=True)
        return FetchedBill(content, str(resp.get("file_name") or f"lakala_{day:%Y%m%d}.csv"))

    def _authorization(self, body: bytes) -> str:
        appid, serial = self._keys.ids["appid"], self._keys.ids["serial_no"]
        timestamp, nonce = str(_now_s()), new_nonce()
        message = f"{appid}\n{serial}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"
        signature = rsa_sign_b64(self._keys.merchant_private_key, message)
        values = (appid, serial, timestamp, nonce, signature)
        names = ("appid", "serial_no", "timestamp", "nonce_str", "signature")
        return f"{LAKALA_SCHEME} {format_auth_params(zip(names, values, strict=True))}"

    def _verify(self, answer: httpx.Response) -> None:
        h = answer.headers
        message = (
            "\n".join(
                h.get(name, "")
                for name in ("Lklapi-Appid", "Lklapi-Serial", "Lklapi-Timestamp", "Lklapi-Nonce")
            ).encode()
            + b"\n"
            + answer.content
            + b"\n"
        )
        signature = h.get("Lklapi-Signature", "")
        if not rsa_verify_b64(self._keys.channel_public_key, signature, message):
            raise FetchFailed("the Lakala answer's signature does not verify", retryable=False)
