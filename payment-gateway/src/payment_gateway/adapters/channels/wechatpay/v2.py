"""WeChat Pay API v2 wire format, our side: flat XML and the v2 signature (付款码 only).

Micropay exists only in API v2 (docs/channel-formats.md §7a). A v2 message is one flat
``<xml><name>value</name>…</xml>`` document. Its ``sign`` (API v2 security rules, the
official example is the golden vector ``tests/vectors/wechatpay/v2_sign_printed.json``):

1. every field except ``sign`` whose value is not empty, sorted by name (ASCII), joined as
   ``k=v&k=v`` → ``stringA``;
2. ``stringSignTemp = stringA + "&key=" + <API v2 key>``;
3. ``MD5``: upper-case hex MD5 of it; ``HMAC-SHA256``: upper-case hex HMAC-SHA256 of it keyed
   with the API v2 key.

We sign with HMAC-SHA256 (``sign_type`` sent) and verify answers with the type we sent.
Parsing refuses DOCTYPE/ENTITY declarations (no entity expansion), nested elements, repeated
names and oversized documents: what a channel answers is read as data, never trusted XML.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Final, Literal
from xml.etree import ElementTree  # noqa: S405 - DOCTYPE/ENTITY refused before parsing
from xml.sax.saxutils import escape

SignType = Literal["MD5", "HMAC-SHA256"]
SIGN_TYPE_MD5: Final[SignType] = "MD5"
SIGN_TYPE_HMAC_SHA256: Final[SignType] = "HMAC-SHA256"
SIGN_FIELD: Final = "sign"
XML_BYTES_MAX: Final = 64 * 1024
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_DECLARATIONS: Final = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class V2FormatError(ValueError):
    """Not a flat WeChat v2 XML document."""


def sign_string(fields: Mapping[str, str]) -> str:
    """``stringA``: the non-empty fields but ``sign``, ASCII-sorted, ``k=v`` joined by ``&``."""
    return "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != SIGN_FIELD and fields[k])


def sign(fields: Mapping[str, str], key: bytes, sign_type: SignType) -> str:
    """The upper-case hex v2 signature of ``fields`` under the API v2 ``key``."""
    temp = f"{sign_string(fields)}&key={key.decode('ascii')}".encode()
    if sign_type == SIGN_TYPE_MD5:
        return hashlib.md5(temp, usedforsecurity=False).hexdigest().upper()
    return hmac.new(key, temp, hashlib.sha256).hexdigest().upper()


def verify(fields: Mapping[str, str], key: bytes, sign_type: SignType) -> bool:
    """Whether ``fields["sign"]`` is the v2 signature of the other fields."""
    received = fields.get(SIGN_FIELD, "")
    return bool(received) and hmac.compare_digest(received, sign(fields, key, sign_type))


def dump_xml(fields: Mapping[str, str]) -> bytes:
    """``<xml><k>v</k>…</xml>`` in the given order, values XML-escaped, UTF-8."""
    parts = []
    for name, value in fields.items():
        if not _NAME.fullmatch(name):
            raise V2FormatError(f"field name {name[:32]!r} is not an XML name")
        parts.append(f"<{name}>{escape(value)}</{name}>")
    return ("<xml>" + "".join(parts) + "</xml>").encode("utf-8")


def parse_xml(raw: bytes) -> dict[str, str]:
    """The fields of a flat ``<xml>`` document (CDATA or text; empty elements are "")."""
    if len(raw) > XML_BYTES_MAX:
        raise V2FormatError(f"document exceeds {XML_BYTES_MAX} bytes")
    if _DECLARATIONS.search(raw):
        raise V2FormatError("DOCTYPE and ENTITY declarations are refused")
    try:
        root = ElementTree.fromstring(raw)  # noqa: S314 - no DTD can reach the parser
    except ElementTree.ParseError as exc:
        raise V2FormatError(f"not well-formed XML: {exc}") from None
    if root.tag != "xml":
        raise V2FormatError("the root element must be <xml>")
    fields: dict[str, str] = {}
    for child in root:
        if len(child) or child.tag in fields or not _NAME.fullmatch(child.tag):
            raise V2FormatError(f"element {str(child.tag)[:32]!r} is nested, repeated or odd")
        fields[child.tag] = child.text or ""
    return fields
