"""The services' HTTP APIs, called server-side with the service token of the user's role.

Tokens stay in this process: they are never rendered, logged or sent to the browser.
A 4xx from a service becomes ``ServiceRefused`` with the service's own detail, code and
line number; a service that does not answer becomes ``ServiceUnavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import IO, Any

import httpx

from finance_console.errors import ServiceRefused, ServiceUnavailable
from otd_shared.http_clients import pooled_limits

Params = Mapping[str, str | int | list[str]]


class ServiceApis:
    """One pooled HTTP client for every service of the cluster.

    The service URLs are read on first use (the launcher writes its cluster file only once
    every service is ready, after the console has started).
    """

    def __init__(
        self,
        urls: Callable[[], dict[str, str]],
        tokens_by_role: dict[str, str],
        timeout_s: float,
    ) -> None:
        self._load_urls = urls
        self._urls: dict[str, str] = {}
        self._tokens = tokens_by_role
        self._client = httpx.AsyncClient(timeout=timeout_s, limits=pooled_limits())

    @property
    def urls(self) -> dict[str, str]:
        """Service name → base URL."""
        if not self._urls:
            self._urls = self._load_urls()
        return dict(self._urls)

    async def close(self) -> None:
        """Release the connection pool."""
        await self._client.aclose()

    async def get(self, role: str, service: str, path: str, params: Params | None = None) -> Any:
        """GET a JSON body."""
        return await self._call("GET", role, service, path, params=params)

    async def get_text(self, role: str, service: str, path: str) -> str:
        """GET a text body (a CSV report)."""
        response = await self._send("GET", role, service, path)
        return response.text

    async def post(
        self, role: str, service: str, path: str, body: Mapping[str, Any] | None = None
    ) -> Any:
        """POST a JSON body; the JSON answer (None for 204)."""
        return await self._call("POST", role, service, path, json=body)

    async def upload(
        self,
        role: str,
        service: str,
        path: str,
        fields: Mapping[str, str],
        file: tuple[str, IO[bytes], str],
    ) -> Any:
        """POST multipart form fields and one file, streamed from ``file``'s handle."""
        return await self._call("POST", role, service, path, data=fields, files={"file": file})

    async def ready(self, service: str) -> str:
        """``ready``, ``not ready`` or ``unreachable`` from the service's /readyz."""
        try:
            response = await self._client.get(self._base(service) + "/readyz", timeout=2.0)
        except httpx.HTTPError:
            return "unreachable"
        return "ready" if response.status_code == 200 else "not ready"

    def _base(self, service: str) -> str:
        url = self.urls.get(service)
        if url is None:
            raise ServiceUnavailable(f"{service} is not part of this cluster")
        return url

    async def _call(self, method: str, role: str, service: str, path: str, **kw: Any) -> Any:
        response = await self._send(method, role, service, path, **kw)
        return response.json() if response.content else None

    async def _send(
        self, method: str, role: str, service: str, path: str, **kw: Any
    ) -> httpx.Response:
        token = self._tokens.get(role)
        if token is None:
            raise ServiceUnavailable(f"the console holds no service token for role {role}")
        url, headers = self._base(service) + path, {"Authorization": f"Bearer {token}"}
        try:
            response = await self._request(method, url, headers, **kw)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{service} did not answer ({type(exc).__name__})") from exc
        if response.status_code >= 500:
            raise ServiceUnavailable(f"{service} failed with {response.status_code}")
        if response.status_code >= 400:
            raise _refusal(response)
        return response

    async def _request(
        self, method: str, url: str, headers: dict[str, str], **kw: Any
    ) -> httpx.Response:
        """One request; a GET goes once more when the server closed the pooled connection
        just as it was reused (nothing was applied, so it is safe to repeat)."""
        try:
            return await self._client.request(method, url, headers=headers, **kw)
        except httpx.RemoteProtocolError:
            if method != "GET":
                raise
            return await self._client.request(method, url, headers=headers, **kw)


def _refusal(response: httpx.Response) -> ServiceRefused:
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # FastAPI validation errors
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg')}" for e in detail
        )
    return ServiceRefused(
        response.status_code,
        str(detail or response.reason_phrase),
        str(body.get("code", "refused")) if isinstance(body, dict) else "refused",
        line_no=body.get("line_no") if isinstance(body, dict) else None,
    )
