"""The console's pages (thin: check the session and role, gather, render).

Every page checks the session and the role; every POST checks the CSRF token. Pages are
server-rendered with Jinja2 (autoescaped); the only scripts are the vendored ECharts and
``static/console.js`` (charts, upload progress), allowed by a strict CSP.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from finance_console.adapters.services import ServiceApis
from finance_console.adapters.sessions import COOKIE_NAME, Session, SessionCodec
from finance_console.domain.access import (
    SAP_RESEND_ROLES,
    UPLOAD_ROLES,
    ConsoleRole,
    UserDirectory,
    home_for,
    page,
    pages_for,
)
from finance_console.domain.recon_day import (
    BUSINESS_TZ,
    SOURCE_LABELS,
    SOURCES,
    business_today,
)
from finance_console.errors import CsrfRejected, NotSignedIn, RoleRefused, UploadTooLarge
from finance_console.service_layer import views

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
LOGIN_CSRF_COOKIE = "otd_console_login_csrf"
MAX_ORDER_ID_CHARS = 100

router = APIRouter(include_in_schema=False)


def fen(value: int | None) -> str:
    """Fen as yuan with thousands separators, exact (integer arithmetic)."""
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    yuan, cents = divmod(abs(int(value)), 100)
    return f"{sign}{yuan:,}.{cents:02d}"


def pct(value: float | None) -> str:
    """A display ratio as a percentage."""
    return "—" if value is None else f"{value * 100:.2f}%"


def shanghai(value: str | None) -> str:
    """An ISO timestamp from a service as Asia/Shanghai wall time (``YYYY-MM-DD HH:MM``)."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return value
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")


TEMPLATES.env.filters["fen"] = fen
TEMPLATES.env.filters["pct"] = pct
TEMPLATES.env.filters["shanghai"] = shanghai


def apis_of(request: Request) -> ServiceApis:
    """The app's service client."""
    apis: ServiceApis = request.app.state.apis
    return apis


def codec_of(request: Request) -> SessionCodec:
    """The app's session codec."""
    codec: SessionCodec = request.app.state.sessions
    return codec


def current_session(request: Request) -> Session:
    """The signed-in session, or NotSignedIn (→ the login page)."""
    session = codec_of(request).read(request.cookies.get(COOKIE_NAME))
    if session is None:
        raise NotSignedIn("sign in first")
    request.state.session = session
    return session


SignedIn = Annotated[Session, Depends(current_session)]


def allow(session: Session, roles: frozenset[ConsoleRole]) -> None:
    """RoleRefused unless the session's role is one of ``roles``."""
    if session.user.role not in roles:
        raise RoleRefused(f"role {session.user.role.value} may not do this")


def check_csrf(session: Session, token: str | None) -> None:
    """CsrfRejected unless the form carried the session's token."""
    if not session.csrf_ok(token):
        raise CsrfRejected("the form is stale or forged: reload the page and try again")


def redirect_back(back: str, default: str) -> RedirectResponse:
    """303 to a local path the form named (never another site), else to ``default``."""
    local = back.startswith("/") and not back.startswith("//")
    return RedirectResponse(back if local else default, status_code=303)


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A page with the menu and the CSRF token of the session (when signed in)."""
    session: Session | None = getattr(request.state, "session", None)
    base = {
        "session": session,
        "menu": pages_for(session.user.role) if session else [],
        "csrf_token": session.csrf_token if session else "",
        "current_path": request.url.path,
    }
    return TEMPLATES.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code
    )


@router.get("/")
async def index(request: Request) -> Response:
    """Home: the first page of the user's role, or the login page."""
    session = codec_of(request).read(request.cookies.get(COOKIE_NAME))
    target = home_for(session.user.role) if session else "/login"
    return RedirectResponse(target, status_code=303)


@router.get("/login")
async def login_page(request: Request, error: str | None = None) -> HTMLResponse:
    """The sign-in form; a login CSRF token in a cookie and the form (double submit)."""
    token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", {"login_csrf": token, "error": error}, 401 if error else 200
    )
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age_s=3600)
    return response


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Check the password; set the signed session cookie; go to the role's home page."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        raise CsrfRejected("the sign-in form is stale: reload it and try again")
    users: UserDirectory = request.app.state.users
    user = users.authenticate(username, password)
    metrics = request.app.state.console_metrics
    if user is None:
        metrics.logins.labels("refused").inc()
        return await login_page(request, error="Wrong user name or password.")
    metrics.logins.labels("ok").inc()
    _, cookie = codec_of(request).new_session(user)
    response = RedirectResponse(home_for(user.role), status_code=303)
    _set_cookie(request, response, COOKIE_NAME, cookie, max_age_s=codec_of(request).max_age_s)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(
    session: SignedIn, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """End the session (the cookie is removed)."""
    check_csrf(session, csrf_token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME)
    return response


@router.get("/account")
async def account(request: Request, session: SignedIn) -> HTMLResponse:
    """Who is signed in (the page of a role without other pages)."""
    return render(request, "account.html", {})


@router.get("/status")
async def status_page(request: Request, session: SignedIn) -> HTMLResponse:
    """Each service's readiness (any signed-in role)."""
    apis = apis_of(request)
    names = list(apis.urls)
    verdicts = await asyncio.gather(*(apis.ready(name) for name in names))
    return render(request, "status.html", {"status": dict(zip(names, verdicts, strict=True))})


@router.get("/dashboard")
async def dashboard_page(
    request: Request, session: SignedIn, day: Annotated[date | None, Query(alias="date")] = None
) -> HTMLResponse:
    """Recon dashboard: the day's seven sources and 30-day charts."""
    allow(session, page("/dashboard").roles)
    now = views.utc_now()
    chosen = day or business_today(now)
    board = await views.dashboard(apis_of(request), session.user.role.value, chosen, now)
    return render(
        request,
        "dashboard.html",
        {"board": board, "labels": SOURCE_LABELS, "chart": _chart_json(board)},
    )


def _chart_json(board: views.Dashboard) -> dict[str, Any]:
    s = board.series
    return {
        "days": s.days,
        "labels": [SOURCE_LABELS[src] for src in SOURCES],
        "matched_fen": [s.matched_fen[src] for src in SOURCES],
        "discrepancy_count": [s.discrepancy_count[src] for src in SOURCES],
        "discrepancy_fen": [s.discrepancy_fen[src] for src in SOURCES],
        "settled_fen": s.settled_fen,
        "fee_fen": s.fee_fen,
    }


@router.get("/statements")
async def statements_page(
    request: Request,
    session: SignedIn,
    source: Annotated[str | None, Query(max_length=32)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    """Statement upload (finance) and the loaded statements."""
    allow(session, page("/statements").roles)
    params: dict[str, Any] = {"limit": 50, "offset": offset}
    if source in SOURCES:
        params["source"] = source
    role = session.user.role.value
    listing, exceptions = await asyncio.gather(
        apis_of(request).get(role, "recon-service", "/v1/statements", params),
        apis_of(request).get(
            role, "recon-service", "/v1/upload-exceptions", {**params, "offset": 0}
        ),
    )
    return render(
        request,
        "statements.html",
        {
            "listing": listing,
            "exceptions": exceptions,
            "sources": SOURCES,
            "labels": SOURCE_LABELS,
            "source": source,
            "can_upload": session.user.role in UPLOAD_ROLES,
            "upload_max_bytes": request.app.state.settings.upload_max_bytes,
        },
    )


@router.post("/statements/upload")
async def upload_statement(
    request: Request,
    session: SignedIn,
    source: Annotated[str, Form(max_length=32)],
    file: UploadFile,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    statement_date: Annotated[str, Form(max_length=10)] = "",
) -> JSONResponse:
    """Stream the file on to recon-service; the parse result, or the exact error and line."""
    check_csrf(session, csrf_token)
    allow(session, UPLOAD_ROLES)
    limit = request.app.state.settings.upload_max_bytes
    if file.size is not None and file.size > limit:
        raise UploadTooLarge(f"the file exceeds the console's limit of {limit} bytes")
    fields = {"source": source}
    if statement_date:
        fields["statement_date"] = statement_date
    loaded = await apis_of(request).upload(
        session.user.role.value,
        "recon-service",
        "/v1/statements",
        fields,
        (file.filename or "statement", file.file, file.content_type or "application/octet-stream"),
    )
    return JSONResponse({"ok": True, "statement": loaded})


@router.get("/orders")
async def orders_page(
    request: Request,
    session: SignedIn,
    order_id: Annotated[str, Query(max_length=MAX_ORDER_ID_CHARS)] = "",
) -> HTMLResponse:
    """Order lookup: billings, payments with vouchers, refunds, ledger statement."""
    allow(session, page("/orders").roles)
    found = None
    if order_id.strip():
        found = await views.order_view(apis_of(request), session.user.role.value, order_id.strip())
    return render(request, "orders.html", {"order_id": order_id, "found": found})


@router.get("/ledger")
async def ledger_page(
    request: Request, session: SignedIn, day: Annotated[date | None, Query(alias="date")] = None
) -> HTMLResponse:
    """Trial balance of a day with account balances; SAP documents with status and re-send."""
    allow(session, page("/ledger").roles)
    chosen = day or business_today(views.utc_now())
    view = await views.ledger_view(apis_of(request), session.user.role.value, chosen)
    return render(
        request,
        "ledger.html",
        {"view": view, "can_resend": session.user.role in SAP_RESEND_ROLES},
    )


@router.post("/ledger/sap/{reference}/resend")
async def resend_sap(
    request: Request,
    session: SignedIn,
    reference: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    day: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Send a rejected or unanswered SAP document again; back to the ledger page."""
    check_csrf(session, csrf_token)
    allow(session, SAP_RESEND_ROLES)
    await apis_of(request).post(
        session.user.role.value, "ledger-service", f"/v1/sap/documents/{reference}/resend"
    )
    suffix = f"?date={date.fromisoformat(day).isoformat()}" if day else ""
    return RedirectResponse(f"/ledger{suffix}", status_code=303)


def _set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age_s: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age_s,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.console_cookie_secure,
        path="/",
    )
