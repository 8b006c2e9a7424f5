"""payment-gateway over HTTP (httpx): correcting a payment to the channel's figure
(``POST /v1/payments/{payment_id}/corrections``), finding a payment by our trade number
(``GET /v1/payments?out_trade_no=``) and a refund by our refund number
(``GET /v1/refunds?out_refund_no=``), with recon's service token."""

from __future__ import annotations

from typing import Any

import httpx

from recon_service.domain.errors import CorrectionRefused, GatewayUnavailable


class GatewayCorrections:
    """One short-lived client per call: corrections are rare finance actions."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = httpx.Timeout(timeout_s)
        self._transport = transport

    async def payment_id_of(self, out_trade_no: str) -> str | None:
        """The gateway's payment with this trade number, if it has one."""
        answer = await self._call("GET", "/v1/payments", params={"out_trade_no": out_trade_no})
        found = answer.json()
        return str(found[0]["payment_id"]) if found else None

    async def refund_of(self, out_refund_no: str) -> tuple[str, str] | None:
        """``(refund_id, payment_id)`` of the gateway's refund with this refund number."""
        answer = await self._call("GET", "/v1/refunds", params={"out_refund_no": out_refund_no})
        found = answer.json()
        if not found or not found[0].get("payment_id"):
            return None
        return str(found[0]["refund_id"]), str(found[0]["payment_id"])

    async def correct(self, payment_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The correction (made now, or the one made before for the same adjustment)."""
        answer = await self._call("POST", f"/v1/payments/{payment_id}/corrections", json=body)
        result: dict[str, Any] = answer.json()
        return result

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            async with httpx.AsyncClient(
                base_url=self._base_url,
                headers=self._headers,
                timeout=self._timeout,
                transport=self._transport,
            ) as client:
                answer = await client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise GatewayUnavailable(
                f"payment-gateway did not answer: {type(exc).__name__}"
            ) from exc
        if answer.status_code >= 500 or answer.status_code in (401, 403, 429):
            raise GatewayUnavailable(f"payment-gateway answered {answer.status_code}")
        if answer.status_code >= 400:
            body = _json(answer)
            raise CorrectionRefused(
                answer.status_code,
                str(body.get("code", "refused")),
                str(body.get("detail", answer.text[:200])),
            )
        return answer


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
