"""WeChat Pay API v2 as the channel writes and reads it: flat `<xml>` messages and `sign`.

Written for the sandbox from WeChat's v2 security rules, independently of the gateway: sort
the parameters by name in ASCII order, drop `sign` and the empty ones, join `name=value` with
`&`, append `&key=<API v2 key>`, then MD5 (the default) or HMAC-SHA256 keyed with the API v2
key (`sign_type=HMAC-SHA256`), as upper-case hex. Answers are CDATA elements as WeChat sends
them. The golden vector tests/vectors/wechatpay/v2_sign_printed.json is the example printed
in WeChat's doc.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Final
from xml.etree import ElementTree  # noqa: S405 - documents with a DTD are refused first

MD5: Final = "MD5"
HMAC_SHA256: Final = "HMAC-SHA256"
BODY_BYTES_MAX: Final = 32 * 1024


class BadXml(Exception):
    """A request that is not a flat v2 `<xml>` document."""


def signature(params: Mapping[str, str], api_key: bytes, sign_type: str = MD5) -> str:
    """WeChat's v2 `sign` of `params` (see the module docstring)."""
    kept = sorted((name, value) for name, value in params.items() if value and name != "sign")
    text = "&".join(f"{name}={value}" for name, value in kept) + "&key=" + api_key.decode()
    if sign_type == HMAC_SHA256:
        return hmac.new(api_key, text.encode("utf-8"), "sha256").hexdigest().upper()
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def signed_by_merchant(params: Mapping[str, str], api_key: bytes) -> bool:
    """Whether the request's `sign` is right under the `sign_type` it names."""
    sign_type = params.get("sign_type") or MD5
    if sign_type not in (MD5, HMAC_SHA256):
        return False
    expected = signature(params, api_key, sign_type)
    return hmac.compare_digest(params.get("sign", ""), expected)


def read(body: bytes) -> dict[str, str]:
    """The parameters of a request body; BadXml when it is not a flat `<xml>`."""
    if len(body) > BODY_BYTES_MAX or b"<!" in body.replace(b"<![CDATA[", b""):
        raise BadXml("too large, or carries a declaration")
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - no declaration can be present
    except ElementTree.ParseError:
        raise BadXml("not XML") from None
    if root.tag != "xml" or any(len(element) for element in root):
        raise BadXml("not a flat <xml> document")
    return {element.tag: (element.text or "") for element in root}


def write(params: Mapping[str, str]) -> bytes:
    """`<xml><name><![CDATA[value]]></name>…</xml>` (values never contain `]]>` here)."""
    inner = "".join(
        f"<{name}><![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]></{name}>"
        for name, value in params.items()
    )
    return f"<xml>{inner}</xml>".encode()


def signed_answer(params: Mapping[str, str], api_key: bytes, sign_type: str) -> bytes:
    """`params` with their `sign` (under the merchant's `sign_type`), as XML."""
    return write({**params, "sign": signature(params, api_key, sign_type)})
