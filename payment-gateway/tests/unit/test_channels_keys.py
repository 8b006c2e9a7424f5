"""Dev key layout (keys; docs/channel-formats.md §0) and the channel registry."""

from __future__ import annotations

import json
import re
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from otd_shared import keyfiles
from payment_gateway.adapters.channels.certificates import issue, pem_of
from payment_gateway.adapters.channels.keys import (
    CHANNEL_CODES,
    REQUIRED_IDS,
    generate_dev_keys,
    load_key_set,
)
from payment_gateway.adapters.channels.registry import (
    REGISTRY,
    build_channel_protocol,
    load_channel_protocol,
)
from payment_gateway.errors import ChannelKeyError

PRIVATE_FILES = ("channel_private.pem", "merchant_private.pem")
PUBLIC_FILES = ("channel_public.pem", "merchant_public.pem")


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys-template")
    generate_dev_keys(path)
    return path


@pytest.fixture
def keys_dir(template_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "keys"
    shutil.copytree(template_dir, target)
    return target


def _snapshot(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def test_layout_has_every_file_with_safe_modes(template_dir: Path) -> None:
    for channel in CHANNEL_CODES:
        directory = template_dir / channel
        for name in PRIVATE_FILES:
            assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600
            assert b"BEGIN PRIVATE KEY" in (directory / name).read_bytes()
        for name in PUBLIC_FILES:
            assert b"BEGIN PUBLIC KEY" in (directory / name).read_bytes()
        ids = json.loads((directory / "ids.json").read_text())
        assert set(REQUIRED_IDS[channel]) <= set(ids)
    apiv3 = template_dir / "wechatpay" / "apiv3.key"
    assert stat.S_IMODE(apiv3.stat().st_mode) == 0o600
    assert re.fullmatch(rb"[A-Za-z0-9]{32}", apiv3.read_bytes())
    assert not (template_dir / "alipay" / "apiv3.key").exists()
    apiv2 = template_dir / "wechatpay" / "apiv2.key"  # micropay's API v2 key
    assert stat.S_IMODE(apiv2.stat().st_mode) == 0o600
    assert re.fullmatch(rb"[A-Za-z0-9]{32}", apiv2.read_bytes())
    assert apiv2.read_bytes() != apiv3.read_bytes()
    assert not (template_dir / "alipay" / "apiv2.key").exists()
    assert not (template_dir / "alipay" / "apiclient_cert.pem").exists()


def test_the_wechat_client_certificate_certifies_the_merchant_key(template_dir: Path) -> None:
    directory = template_dir / "wechatpay"
    certificate = x509.load_pem_x509_certificate((directory / "apiclient_cert.pem").read_bytes())
    merchant = keyfiles.load_private_pem(directory / "merchant_private.pem").public_key()
    certified = certificate.public_key()
    assert isinstance(certified, rsa.RSAPublicKey)
    assert certified.public_numbers() == merchant.public_numbers()
    mchid = json.loads((directory / "ids.json").read_text())["mchid"]
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == mchid
    loaded = load_key_set(template_dir, "wechatpay").client_certificate
    assert loaded is not None
    assert (loaded.cert_file.name, loaded.key_file.name) == (
        "apiclient_cert.pem",
        "merchant_private.pem",
    )
    assert load_key_set(template_dir, "alipay").client_certificate is None


def test_ids_have_the_channels_shapes(template_dir: Path) -> None:
    wechat = json.loads((template_dir / "wechatpay" / "ids.json").read_text())
    assert re.fullmatch(r"[0-9A-F]{40}", wechat["serial"])
    assert re.fullmatch(r"[0-9]{10}", wechat["mchid"])
    assert wechat["appid"].startswith("wx")
    alipay = json.loads((template_dir / "alipay" / "ids.json").read_text())
    assert re.fullmatch(r"2088[0-9]{12}", alipay["seller_id"])
    unionpay = json.loads((template_dir / "unionpay" / "ids.json").read_text())
    assert re.fullmatch(r"[0-9]{15}", unionpay["merId"])
    assert unionpay["certId"].isdigit()


def test_keys_are_rsa_2048_pairs(template_dir: Path) -> None:
    for channel in CHANNEL_CODES:
        keys = load_key_set(template_dir, channel)
        channel_private = keyfiles.load_private_pem(template_dir / channel / "channel_private.pem")
        assert channel_private.key_size == 2048  # the sandbox's, made with the dev layout
        assert keyfiles.same_public_key(channel_private.public_key(), keys.channel_public_key)
        assert keys.merchant_private_key.key_size == 2048
        assert keys.merchant_private_key.public_key().public_numbers() == (
            keys.merchant_public_key.public_numbers()
        )
        assert keys.channel_public_key.public_numbers() != keys.merchant_public_key.public_numbers()


def test_second_run_keeps_everything(keys_dir: Path) -> None:
    before = _snapshot(keys_dir)
    generate_dev_keys(keys_dir)
    assert _snapshot(keys_dir) == before


def test_missing_public_key_is_derived_from_the_kept_private_key(keys_dir: Path) -> None:
    private = (keys_dir / "alipay" / "channel_private.pem").read_bytes()
    (keys_dir / "alipay" / "channel_public.pem").unlink()
    generate_dev_keys(keys_dir)
    assert (keys_dir / "alipay" / "channel_private.pem").read_bytes() == private
    derived = load_key_set(keys_dir, "alipay").channel_public_key
    kept = keyfiles.load_private_pem(keys_dir / "alipay" / "channel_private.pem")
    assert keyfiles.same_public_key(kept.public_key(), derived)


def test_public_key_without_private_key_is_not_replaced(keys_dir: Path) -> None:
    (keys_dir / "lakala" / "merchant_private.pem").unlink()
    with pytest.raises(ChannelKeyError):
        generate_dev_keys(keys_dir)


def test_missing_ids_are_added_and_present_ones_kept(keys_dir: Path) -> None:
    path = keys_dir / "unionpay" / "ids.json"
    path.write_text(json.dumps({"merId": "777290058110048", "note": "kept"}))
    generate_dev_keys(keys_dir)
    ids = json.loads(path.read_text())
    assert ids["merId"] == "777290058110048"
    assert ids["note"] == "kept"
    assert ids["certId"]


def test_partial_layout_is_completed(tmp_path: Path) -> None:
    (tmp_path / "wechatpay").mkdir()
    (tmp_path / "wechatpay" / "apiv3.key").write_bytes(b"TESTAPIV3KEY0123456789abcdefghij\n")
    generate_dev_keys(tmp_path)
    keys = load_key_set(tmp_path, "wechatpay")
    assert keys.require_apiv3_key() == b"TESTAPIV3KEY0123456789abcdefghij"
    assert len(keys.require_apiv2_key()) == 32  # added to an older layout without one
    assert keys.client_certificate is not None  # so is the API client certificate


def test_an_existing_layout_gains_its_client_certificate_and_keeps_its_keys(
    keys_dir: Path,
) -> None:
    (keys_dir / "wechatpay" / "apiclient_cert.pem").unlink()
    before = _snapshot(keys_dir)
    generate_dev_keys(keys_dir)
    after = _snapshot(keys_dir)
    assert set(after) - set(before) == {"wechatpay/apiclient_cert.pem"}
    assert all(after[name] == content for name, content in before.items())
    assert load_key_set(keys_dir, "wechatpay").client_certificate is not None


def test_the_gateway_neither_needs_nor_holds_the_channel_private_key(keys_dir: Path) -> None:
    (keys_dir / "allinpay" / "channel_private.pem").write_bytes(b"not read by the gateway")
    keys = load_key_set(keys_dir, "allinpay")
    (keys_dir / "allinpay" / "channel_private.pem").unlink()
    again = load_key_set(keys_dir, "allinpay")
    assert (again.ids, again.channel_public_key.public_numbers()) == (
        keys.ids,
        keys.channel_public_key.public_numbers(),
    )
    held = [value for value in vars(keys).values() if isinstance(value, rsa.RSAPrivateKey)]
    assert held == [keys.merchant_private_key]


@pytest.mark.parametrize(
    ("channel", "file_name", "content"),
    [
        ("alipay", "merchant_private.pem", None),
        ("alipay", "channel_public.pem", None),
        ("alipay", "ids.json", b"[]"),
        ("alipay", "ids.json", b"{not json"),
        ("alipay", "ids.json", b'{"app_id": "2021000000000000"}'),
        ("alipay", "ids.json", b'{"app_id": "20210 0", "seller_id": "2088"}'),
        ("wechatpay", "apiv3.key", b"short"),
        ("wechatpay", "apiv3.key", None),
        ("wechatpay", "apiv2.key", b"short"),
        ("wechatpay", "apiv2.key", None),
        ("wechatpay", "apiclient_cert.pem", None),
        ("wechatpay", "apiclient_cert.pem", b"-----BEGIN CERTIFICATE-----\njunk\n"),
        ("unionpay", "channel_public.pem", b"-----BEGIN PUBLIC KEY-----\njunk\n"),
    ],
)
def test_load_rejects_broken_layouts(
    keys_dir: Path, channel: str, file_name: str, content: bytes | None
) -> None:
    path = keys_dir / channel / file_name
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
    with pytest.raises(ChannelKeyError):
        load_key_set(keys_dir, channel)


def test_load_rejects_a_public_key_of_another_pair(keys_dir: Path) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (keys_dir / "alipay" / "merchant_public.pem").write_bytes(pem)
    with pytest.raises(ChannelKeyError):
        load_key_set(keys_dir, "alipay")


def test_load_rejects_a_client_certificate_of_another_key(keys_dir: Path) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "another merchant")])
    certificate = issue(
        subject=name, public_key=other.public_key(), issuer=name, issuer_key=other, serial=1,
        not_before=datetime.now(UTC), days=1, ca=False,
    )  # fmt: skip
    (keys_dir / "wechatpay" / "apiclient_cert.pem").write_bytes(pem_of(certificate))
    with pytest.raises(ChannelKeyError, match="does not certify"):
        load_key_set(keys_dir, "wechatpay")


def test_unknown_channel_is_an_error(template_dir: Path) -> None:
    with pytest.raises(ChannelKeyError):
        load_key_set(template_dir, "paypal")


def test_repr_shows_no_key_material(template_dir: Path) -> None:
    keys = load_key_set(template_dir, "wechatpay")
    text = repr(keys)
    assert keys.require_apiv3_key().decode() not in text
    assert "PRIVATE" not in text
    assert "RSAPrivateKey" not in text


def test_registry_builds_every_channel(template_dir: Path) -> None:
    assert {spec.code for spec in REGISTRY if spec.protocol is not None} == set(CHANNEL_CODES)
    for channel in CHANNEL_CODES:
        assert load_channel_protocol(template_dir, channel).channel == channel


def test_registry_rejects_unknown_codes_and_foreign_key_sets(template_dir: Path) -> None:
    with pytest.raises(ChannelKeyError):
        build_channel_protocol("paypal", load_key_set(template_dir, "alipay"))
    with pytest.raises(ChannelKeyError):
        build_channel_protocol("wechatpay", load_key_set(template_dir, "alipay"))


def test_works_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: object, dst: object) -> None:
        raise PermissionError("no hard links here")

    monkeypatch.setattr("os.link", no_links)
    generate_dev_keys(tmp_path)
    before = _snapshot(tmp_path)
    generate_dev_keys(tmp_path)
    assert _snapshot(tmp_path) == before
    assert not list(tmp_path.rglob(".tmp-*"))
    assert stat.S_IMODE((tmp_path / "alipay" / "channel_private.pem").stat().st_mode) == 0o600
    load_key_set(tmp_path, "wechatpay")
