"""The console app without the services: sign-in, CSRF, roles, sessions, sign-out, errors."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from finance_console.adapters.sessions import COOKIE_NAME
from finance_console.bootstrap import create_app
from finance_console.config import ConsoleSettings

USERS = {
    "finance": {"username": "fin", "password": "fin-pass-1"},
    "finance-approver": {"username": "appr", "password": "appr-pass-1"},
    "cashier": {"username": "cash", "password": "cash-pass-1"},
    "marketing": {"username": "mkt", "password": "mkt-pass-1"},
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    users = tmp_path / "console-users.json"
    users.write_text(json.dumps(USERS))
    settings = ConsoleSettings(
        console_users_file=users,
        auth_tokens_file=tmp_path / "none.json",
        console_session_secret=SecretStr("test-secret"),
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as c:
        yield c


async def _sign_in(client: httpx.AsyncClient, role: str) -> httpx.Response:
    form = await client.get("/login")
    match = CSRF.search(form.text)
    assert match is not None
    return await client.post(
        "/login",
        data={
            "username": USERS[role]["username"],
            "password": USERS[role]["password"],
            "csrf_token": match.group(1),
        },
    )


async def test_pages_need_a_session(client: httpx.AsyncClient) -> None:
    for path in (
        "/dashboard",
        "/statements",
        "/ledger",
        "/orders",
        "/account",
        "/wires",
        "/cash",
        "/discounts",
    ):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/login"


async def test_sign_in_sets_a_signed_http_only_cookie(client: httpx.AsyncClient) -> None:
    response = await _sign_in(client, "finance")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    cookie = next(h for h in response.headers.get_list("set-cookie") if COOKIE_NAME in h)
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "fin-pass-1" not in cookie


async def test_a_wrong_password_is_401_and_sets_no_session(client: httpx.AsyncClient) -> None:
    form = await client.get("/login")
    match = CSRF.search(form.text)
    assert match is not None
    response = await client.post(
        "/login", data={"username": "fin", "password": "nope", "csrf_token": match.group(1)}
    )
    assert response.status_code == 401
    assert COOKIE_NAME not in response.headers.get("set-cookie", "")


async def test_sign_in_without_the_login_csrf_token_is_refused(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/login", data={"username": "fin", "password": "fin-pass-1"})
    assert response.status_code == 403


async def test_a_forged_cookie_is_no_session(client: httpx.AsyncClient) -> None:
    client.cookies.set(COOKIE_NAME, "eyJ1IjoiZmluIiwiciI6ImZpbmFuY2UifQ.forged.sig")
    response = await client.get("/dashboard")
    assert response.status_code == 303


async def test_the_cashier_is_refused_finance_pages(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "cashier")
    for path in ("/dashboard", "/statements", "/ledger", "/orders"):
        response = await client.get(path)
        assert response.status_code == 403, path
        assert "may not" in response.text


async def test_the_approver_may_not_upload(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "finance-approver")
    page = await client.get("/account")
    match = CSRF.search(page.text)
    assert match is not None
    response = await client.post(
        "/statements/upload",
        data={"source": "wechatpay", "csrf_token": match.group(1)},
        files={"file": ("a.csv", b"x", "text/csv")},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "role_refused"


async def test_a_post_without_the_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "finance")
    response = await client.post(
        "/statements/upload",
        data={"source": "wechatpay", "csrf_token": "wrong"},
        files={"file": ("a.csv", b"x", "text/csv")},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_rejected"
    logout = await client.post("/logout", data={})
    assert logout.status_code == 403


async def test_a_service_that_is_not_there_is_a_503_page(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "finance")
    response = await client.get("/ledger")
    assert response.status_code == 503


async def test_a_bad_date_is_422_not_500(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "finance")
    response = await client.get("/dashboard", params={"date": "2026-02-30"})
    assert response.status_code == 422


async def test_sign_out_clears_the_cookie(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "finance")
    page = await client.get("/account")
    match = CSRF.search(page.text)
    assert match is not None
    response = await client.post("/logout", data={"csrf_token": match.group(1)})
    assert response.status_code == 303
    assert f'{COOKIE_NAME}=""' in response.headers["set-cookie"]


async def test_pages_carry_a_strict_content_security_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


async def test_echarts_is_served_with_its_licence(client: httpx.AsyncClient) -> None:
    script = await client.get("/static/vendor/echarts/echarts.min.js")
    licence = await client.get("/static/vendor/echarts/LICENSE")
    version = await client.get("/static/vendor/echarts/VERSION")
    assert script.status_code == 200
    assert "Apache" in script.text[:400]
    assert "Apache License" in licence.text
    assert version.text.startswith("echarts ")


async def test_metrics_count_requests_per_route(client: httpx.AsyncClient) -> None:
    await client.get("/login")
    body = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/login",status="200"}' in body


async def _csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/account")
    match = CSRF.search(page.text)
    assert match is not None
    return match.group(1)


WIRE = "/wires/0b5f7c1e-2d3a-4c5b-8e9f-0a1b2c3d4e5f"
CLAIM = "/wire-claims/0b5f7c1e-2d3a-4c5b-8e9f-0a1b2c3d4e5f"
ACTIVITY = "/discounts/0b5f7c1e-2d3a-4c5b-8e9f-0a1b2c3d4e5f"
RECEIPT = "/cash/receipts/0b5f7c1e-2d3a-4c5b-8e9f-0a1b2c3d4e5f/reversal"


@pytest.mark.parametrize(
    ("role", "refused", "home"),
    [
        ("cashier", ("/discounts", ACTIVITY, "/dashboard", "/approvals"), "/cash"),
        ("marketing", ("/wires", "/cash", "/dashboard", "/orders"), "/discounts"),
    ],
)
async def test_each_role_sees_its_pages_only(
    client: httpx.AsyncClient, role: str, refused: tuple[str, ...], home: str
) -> None:
    signed_in = await _sign_in(client, role)
    assert signed_in.headers["location"] == home
    account = await client.get("/account")
    assert f'href="{home}"' in account.text
    for path in refused:
        response = await client.get(path)
        assert response.status_code == 403, path
        assert "may not" in response.text
        assert f'href="{path}"' not in account.text


async def test_the_cashier_menu_has_the_cash_and_wire_pages(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "cashier")
    account = (await client.get("/account")).text
    for path in ("/cash", "/wires"):
        assert f'href="{path}"' in account


async def test_the_finance_menu_has_the_wire_cash_and_discount_pages(
    client: httpx.AsyncClient,
) -> None:
    await _sign_in(client, "finance")
    account = (await client.get("/account")).text
    for path in ("/wires", "/cash", "/discounts"):
        assert f'href="{path}"' in account


@pytest.mark.parametrize(
    ("role", "path", "data"),
    [
        ("finance-approver", WIRE + "/claims", {"billing_id": "x", "amount": "1"}),
        ("finance", CLAIM + "/approve", {"wire_id": WIRE[7:]}),
        ("cashier", CLAIM + "/unclaim", {"wire_id": WIRE[7:], "reason": "wrong"}),
        (
            "finance",
            "/cash/receipts",
            {"billing_id": "x", "amount": "1", "receipt_no": "R1", "store_id": "S001"},
        ),
        ("cashier", RECEIPT, {"reason": "wrong", "store_id": "S001", "date": "2026-05-01"}),
        ("finance", "/cash/day-closes", {"store_id": "S001", "date": "2026-05-01"}),
        ("marketing", ACTIVITY + "/approve", {}),
        ("finance", ACTIVITY + "/cancel", {}),
    ],
)
async def test_actions_are_refused_to_other_roles_before_any_service_call(
    client: httpx.AsyncClient, role: str, path: str, data: dict[str, str]
) -> None:
    await _sign_in(client, role)
    response = await client.post(path, data={**data, "csrf_token": await _csrf(client)})
    assert response.status_code == 403, response.text
    assert "may not" in response.text


async def test_the_new_forms_need_the_csrf_token(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "finance")
    claim = await client.post(
        WIRE + "/claims", data={"billing_id": "x", "amount": "1", "csrf_token": "forged"}
    )
    assert claim.status_code == 403
    assert "stale or forged" in claim.text
    await _sign_in(client, "marketing")
    cancel = await client.post(ACTIVITY + "/cancel", data={})
    assert cancel.status_code == 403


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            {"billing_id": ["0b5f7c1e-2d3a-4c5b-8e9f-0a1b2c3d4e5f"], "amount": ["12.345"]},
            "row 1 amount: &#39;12.345&#39; is not an amount",
        ),
        ({"billing_id": ["not-a-billing"], "amount": ["10"]}, "row 1: &#39;not-a-billing&#39;"),
        ({"billing_id": ["a", "b"], "amount": ["", " "]}, "at least one billing"),
        ({"billing_id": ["a", "b"], "amount": ["1"]}, "malformed"),
    ],
)
async def test_a_bad_claim_form_is_422_and_calls_no_service(
    client: httpx.AsyncClient, rows: dict[str, list[str]], message: str
) -> None:
    await _sign_in(client, "finance")
    response = await client.post(WIRE + "/claims", data={**rows, "csrf_token": await _csrf(client)})
    assert response.status_code == 422
    assert message in response.text


async def test_a_bad_receipt_or_day_is_422(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "cashier")
    token = await _csrf(client)
    amount = await client.post(
        "/cash/receipts",
        data={
            "billing_id": "0b5f7c1e-2d3a-4c5b-8e9f-0a1b2c3d4e5f",
            "amount": "-3",
            "receipt_no": "R1",
            "store_id": "S001",
            "csrf_token": token,
        },
    )
    assert amount.status_code == 422
    assert "not an amount" in amount.text
    store = await client.post(
        "/cash/day-closes", data={"store_id": "S 1", "date": "2026-05-01", "csrf_token": token}
    )
    assert store.status_code == 422
    day = await client.get("/cash", params={"date": "2026-13-01"})
    assert day.status_code == 422
    report = await client.get("/cash/day-closes/S%201/2026-05-01/report.csv")
    assert report.status_code == 422


async def test_the_new_pages_need_their_services(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "finance")
    for path in ("/wires", "/cash", "/discounts", WIRE, ACTIVITY):
        response = await client.get(path)
        assert response.status_code == 503, path


async def test_a_refused_form_links_back_to_its_page_only_on_this_site(
    client: httpx.AsyncClient,
) -> None:
    await _sign_in(client, "finance")
    token = await _csrf(client)
    data = {"billing_id": "x", "amount": "nope", "csrf_token": token}
    ours = await client.post(
        WIRE + "/claims", data=data, headers={"referer": f"http://console{WIRE}?order_id=1"}
    )
    assert ours.status_code == 422
    assert f'href="{WIRE}?order_id=1" data-testid="error-back"' in ours.text
    theirs = await client.post(
        WIRE + "/claims", data=data, headers={"referer": "http://evil.example/wires"}
    )
    assert "error-back" not in theirs.text


async def test_a_bad_wire_filter_is_422_before_any_service_call(
    client: httpx.AsyncClient,
) -> None:
    await _sign_in(client, "finance")
    assert (await client.get("/wires", params={"amount": "1.234"})).status_code == 422
    assert (await client.get("/wires", params={"payer_last4": "12a4"})).status_code == 422
    assert (
        await client.get(ACTIVITY, params={"from": "2026-05-02", "to": "2026-05-01"})
    ).status_code == 422
