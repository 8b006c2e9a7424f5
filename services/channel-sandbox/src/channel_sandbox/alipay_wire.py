"""Alipay openapi requests and responses, channel side (what `gateway.do` does).

* Request parameters come from the form body and/or the query string (SDKs put the common
  parameters in the URL and `biz_content` in the body); a name given twice is rejected.
* Request signature: RSA2 (or RSA) over every non-empty parameter except `sign` — `sign_type`
  included, unlike notifications — sorted, `k=v&...`, in the declared charset
  (`alipay.protocol.request_sign_content`), verified with the merchant public key.
* Response: `{"<method with _>_response":{...},"sign":"<b64>"}` where `sign` is RSA2 with the
  Alipay (channel) private key over the exact bytes of the `*_response` JSON text as it appears
  in the body (compact JSON, UTF-8 or the request's charset). The merchant verifies by taking
  that text verbatim (the substring between `"..._response":` and `,"sign"`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from payment_gateway.adapters.channels.alipay.protocol import (
    SIGN_TYPE_HASHES,
    request_sign_content,
)
from payment_gateway.adapters.channels.errors import (
    BadSignature,
    CallbackRejected,
    DuplicateField,
    MissingField,
    UnsupportedSignType,
)
from payment_gateway.adapters.channels.rsa_signing import sign_b64, verify_b64
from payment_gateway.adapters.channels.wire import (
    Charset,
    content_type_charset,
    decode_form_values,
    form_field,
    normalize_charset,
    split_form,
)

REQUEST_BODY_MAX_BYTES: Final = 64 * 1024
SIGN_FIELD: Final = "sign"


@dataclass(frozen=True)
class AlipayRequest:
    """A decoded `gateway.do` request (signature not yet checked)."""

    params: dict[str, str]
    charset: Charset

    @property
    def method(self) -> str:
        return self.params.get("method", "")


def parse_request(query: bytes, body: bytes, content_type: str | None) -> AlipayRequest:
    """Merge query and form parameters and decode them in the declared charset."""
    pairs = (split_form(query) if query else []) + (split_form(body) if body.strip() else [])
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise DuplicateField(key, where="parameter")
        seen.add(key)
    declared = dict(pairs).get("charset")
    label = declared.decode("ascii", "replace") if declared else None
    charset = normalize_charset(label) if label else content_type_charset(content_type) or "utf-8"
    return AlipayRequest(dict(decode_form_values(pairs, charset)), charset)


def verify_request(request: AlipayRequest, merchant_public_key: rsa.RSAPublicKey) -> None:
    """Verify `sign`; raises a CallbackRejected subclass (BadSignature, MissingField, ...)."""
    hash_name = SIGN_TYPE_HASHES.get(form_field(request.params, "sign_type"))
    if hash_name is None:
        raise UnsupportedSignType("sign_type must be RSA2 or RSA")
    content = request_sign_content(request.params.items()).encode(request.charset)
    verify_b64(merchant_public_key, form_field(request.params, SIGN_FIELD), content, hash_name)


def response_key(method: str) -> str:
    """`alipay.trade.query` → `alipay_trade_query_response`."""
    return method.replace(".", "_") + "_response"


def signed_response(
    key: str,
    payload: Mapping[str, object],
    *,
    private_key: rsa.RSAPrivateKey | None,
    charset: Charset = "utf-8",
    extra: Mapping[str, str] | None = None,
) -> bytes:
    """`{"<key>":<payload>,"sign":"..."}` signed over the payload's exact JSON text.

    `private_key=None` leaves the response unsigned (Alipay sends no `sign` when it rejected
    the request's own signature). `extra` adds members after `sign` (e.g. `sign_type`).
    """
    text = json.dumps(dict(payload), ensure_ascii=False, separators=(",", ":"))
    members = [f"{json.dumps(key)}:{text}"]
    if private_key is not None:
        members.append(f'"sign":{json.dumps(sign_b64(private_key, text.encode(charset)))}')
    for name, value in (extra or {}).items():
        members.append(f"{json.dumps(name)}:{json.dumps(value, ensure_ascii=False)}")
    return ("{" + ",".join(members) + "}").encode(charset)


def error_payload(code: str, msg: str, sub_code: str, sub_msg: str) -> dict[str, object]:
    """An openapi error object (`code` 40002 invalid arguments, 40004 business failed)."""
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def rejection_sub_code(error: CallbackRejected) -> str:
    """`isv.*` sub code for a rejected request signature or malformed request."""
    if isinstance(error, BadSignature | UnsupportedSignType):
        return "isv.invalid-signature"
    if isinstance(error, MissingField):
        return "isv.missing-signature" if error.field == SIGN_FIELD else "isv.missing-parameter"
    return "isv.invalid-parameter"
