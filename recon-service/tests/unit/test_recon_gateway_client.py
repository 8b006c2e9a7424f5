"""recon's gateway client over a fake transport: finding a refund by our refund number."""

from __future__ import annotations

import httpx
import pytest

from recon_service.adapters.gateway_client import GatewayCorrections
from recon_service.domain.errors import GatewayUnavailable

REFUNDS = {
    "R1": [{"refund_id": "ref-1", "payment_id": "pay-1", "status": "processing"}],
    "R-MANUAL": [{"refund_id": "ref-2", "payment_id": None, "status": "manual"}],
}


def _client(status_code: int = 200) -> GatewayCorrections:
    def answer(request: httpx.Request) -> httpx.Response:
        assert (request.url.path, request.headers["Authorization"]) == ("/v1/refunds", "Bearer t")
        found = REFUNDS.get(request.url.params["out_refund_no"], [])
        return httpx.Response(status_code, json=found)

    return GatewayCorrections(
        "http://gateway", "t", timeout_s=1.0, transport=httpx.MockTransport(answer)
    )


async def test_a_refund_is_found_by_its_number() -> None:
    client = _client()
    assert await client.refund_of("R1") == ("ref-1", "pay-1")
    assert await client.refund_of("R-NEVER") is None
    assert await client.refund_of("R-MANUAL") is None  # a refund of no payment: none to correct


async def test_a_gateway_that_refuses_the_token_is_unavailable() -> None:
    with pytest.raises(GatewayUnavailable, match="403"):
        await _client(403).refund_of("R1")
