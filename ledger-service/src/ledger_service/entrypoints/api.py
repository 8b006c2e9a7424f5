"""HTTP API of ledger-service (thin routers)."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["ledger"])
