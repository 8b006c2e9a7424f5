"""HTTP API of recon-service (thin routers): statements.

``POST /v1/statements`` (finance; multipart ``source``, ``file``, optional ``statement_date``)
loads a statement file in its channel's real layout. Over the size limit → 413; unknown
source → 422; a broken file → 422 with the line number, and nothing is stored.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile, status

from otd_shared.auth import Principal, Role, require_roles
from otd_shared.runtime import ServiceRuntime
from recon_service.config import ReconSettings
from recon_service.domain.errors import StatementTooLarge
from recon_service.domain.statement import statement_source
from recon_service.entrypoints.schemas import (
    ErrorOut,
    StatementLineOut,
    StatementLinesOut,
    StatementLoadedOut,
    StatementOut,
    StatementPageOut,
    UploadExceptionOut,
    UploadExceptionPageOut,
)
from recon_service.entrypoints.sources import SourceQuery
from recon_service.service_layer import queries
from recon_service.service_layer.statements import StatementUpload, load_statement
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

router = APIRouter(prefix="/v1", tags=["recon"])
Finance = Annotated[Principal, Depends(require_roles(Role.FINANCE))]
Reader = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.FINANCE_APPROVER))]
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500
Limit = Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
ERRORS: dict[int | str, dict[str, object]] = {
    413: {"model": ErrorOut, "description": "The file exceeds the statement size limit."},
    422: {"model": ErrorOut, "description": "Unknown source, or the file breaks its format."},
}


def runtime_of(request: Request) -> ServiceRuntime:
    """The app's runtime."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def settings_of(request: Request) -> ReconSettings:
    """The app's recon settings."""
    settings = runtime_of(request).settings
    assert isinstance(settings, ReconSettings)
    return settings


def unit_of_work(request: Request) -> ReconUnitOfWork:
    """A fresh unit of work on the app's runtime."""
    runtime = runtime_of(request)
    return ReconUnitOfWork(runtime.sessions, runtime.outbox)


UoW = Annotated[ReconUnitOfWork, Depends(unit_of_work)]


@router.post(
    "/statements",
    response_model=StatementLoadedOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The same file was loaded before."}, **ERRORS},
)
async def upload_statement(
    request: Request,
    response: Response,
    uow: UoW,
    principal: Finance,
    source: Annotated[str, Form(max_length=32)],
    file: Annotated[UploadFile, File(description="The statement in its channel's layout.")],
    statement_date: Annotated[date | None, Form()] = None,
) -> StatementLoadedOut:
    """Load a statement file (WeChat bill, Alipay csv.zip, UnionPay ZM, Allinpay, cash,
    wire, Lakala): 201 with the new statement, or 200 with the one loaded from the same file."""
    settings = runtime_of(request).settings
    assert isinstance(settings, ReconSettings)
    parsed = statement_source(source)
    if file.size is not None and file.size > settings.statement_max_file_bytes:
        raise StatementTooLarge(f"the statement exceeds {settings.statement_max_file_bytes} bytes")
    upload = StatementUpload(
        source=parsed,
        stream=file.file,
        filename=file.filename,
        statement_date=statement_date,
        loaded_by=principal.subject,
    )
    loaded = await load_statement(
        uow,
        upload,
        settings.statement_limits(),
        batch_lines=settings.statement_copy_batch_lines,
    )
    if not loaded.created:
        response.status_code = status.HTTP_200_OK
    return StatementLoadedOut(
        **StatementOut.of(loaded.statement).model_dump(), created=loaded.created
    )


@router.get("/statements", response_model=StatementPageOut)
async def list_statements(
    uow: UoW,
    _: Reader,
    source: SourceQuery,
    statement_date: date | None = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    offset: Offset = 0,
) -> StatementPageOut:
    """Loaded statements, newest day first; paginated with ``limit``/``offset`` and ``total``."""
    page = await queries.statements(
        uow,
        source=source.value if source else None,
        statement_date=statement_date,
        limit=limit,
        offset=offset,
    )
    return StatementPageOut(
        items=[StatementOut.of(s) for s in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/statements/{statement_id}", response_model=StatementOut)
async def get_statement(statement_id: uuid.UUID, uow: UoW, _: Reader) -> StatementOut:
    """One statement with its totals."""
    return StatementOut.of(await queries.statement(uow, statement_id))


@router.get("/statements/{statement_id}/lines", response_model=StatementLinesOut)
async def list_statement_lines(
    statement_id: uuid.UUID,
    uow: UoW,
    _: Reader,
    kind: Literal["payment", "refund"] | None = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    offset: Offset = 0,
) -> StatementLinesOut:
    """A statement's normalised lines in file order; paginated."""
    page = await queries.statement_lines(uow, statement_id, kind=kind, limit=limit, offset=offset)
    return StatementLinesOut(
        statement_id=statement_id,
        items=[StatementLineOut.of(line) for line in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/upload-exceptions", response_model=UploadExceptionPageOut)
async def list_upload_exceptions(
    uow: UoW,
    _: Reader,
    source: SourceQuery,
    statement_date: date | None = None,
    statement_id: uuid.UUID | None = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    offset: Offset = 0,
) -> UploadExceptionPageOut:
    """Exceptions at upload (上传异常), apart from reconciliation discrepancies: every refused
    file with its error and line, and every duplicate line of a loaded statement."""
    page = await queries.upload_exceptions(
        uow,
        source=source.value if source else None,
        statement_date=statement_date,
        statement_id=statement_id,
        limit=limit,
        offset=offset,
    )
    return UploadExceptionPageOut(
        items=[UploadExceptionOut.model_validate(e) for e in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )
