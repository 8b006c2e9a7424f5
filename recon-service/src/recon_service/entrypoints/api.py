"""HTTP API of recon-service (thin routers)."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["recon"])
