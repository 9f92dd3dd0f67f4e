"""OpenAPI 3 services as a tool source: one tool per operation, called with httpx2.

GET and HEAD operations are read-only (retried on timeouts and dropped connections);
POST, PUT, PATCH and DELETE need approval unless `flags` says otherwise. A non-2xx
answer is a `ToolError` with the status and the start of the body. Every call is
bounded: a deadline for the whole exchange, a cap on the body, path parameters kept
to one segment each (see `_openapi_http`).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx2

from toolweave.errors import ToolError, UserError
from toolweave.redaction import register_credentials, register_secret
from toolweave.sources._openapi_http import Limits, cut, exchange, fetch
from toolweave.sources._openapi_spec import Operation, operations
from toolweave.tools import Tool

__all__ = ["OpenAPISource"]

_FLAGS = frozenset({"read_only", "idempotent", "destructive"})
# header names that carry credentials: their values are kept out of every sink


class OpenAPISource:
    """The operations of an OpenAPI 3 service, as toolweave `Tool`s.

    The spec is read, and the HTTP client started, when the source opens:
    ``async with source``, or inside an open `ToolRegistry` or `Agent`.

    Args:
        spec: The spec: a file (JSON, or YAML with PyYAML installed), an http(s) URL,
            or the document itself.
        base_url: Where the service is; by default the spec's first ``servers`` URL
            (relative to the spec's URL), else the spec URL's origin.
        headers: Sent with every request (API keys, for instance).
        bearer_env: The name of an environment variable holding a bearer token, sent
            as ``Authorization: Bearer <token>`` when the variable is set.
        timeout: Seconds to connect, and to wait for each read or write.
        call_timeout: Seconds for a whole exchange, from sending the request to the
            last byte of the answer (one attempt); past it the call fails with a
            `ToolError` of kind ``timeout``, not retried.
        max_response_bytes: The most bytes of a (decoded) answer read; a larger one
            fails the call, so a huge or endless body cannot fill the memory. The spec,
            when fetched, is bounded the same way.
        retries: Extra attempts for read-only operations on timeouts and dropped
            connections.
        flags: Behaviour flags by tool name, over the method's defaults:
            ``{"createPet": {"destructive": False}}``.
        name: A short identifier, used to prefix tool names that clash with others';
            by default the spec's title.
        transport: An httpx2 transport (for tests, or a custom network stack).

    Example:
        ```python
        pets = OpenAPISource("https://petstore3.swagger.io/api/v3/openapi.json")
        async with Agent("local", tools=[pets]) as agent:
            await agent.run("Which pets are available?")
        ```
    """

    def __init__(
        self,
        spec: str | Path | Mapping[str, Any],
        *,
        base_url: str | None = None,
        headers: Mapping[str, str] | None = None,
        bearer_env: str | None = None,
        timeout: float = 30.0,
        call_timeout: float = 60.0,
        max_response_bytes: int = 16 * 1024 * 1024,
        retries: int = 1,
        flags: Mapping[str, Mapping[str, bool]] | None = None,
        name: str | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._spec = spec
        self._base_url = base_url
        self._headers = dict(headers or {})
        self._bearer_env = bearer_env
        for option, value in (
            ("timeout", timeout),
            ("call_timeout", call_timeout),
            ("max_response_bytes", max_response_bytes),
        ):
            if not value > 0:
                raise UserError(f"{option} must be positive, not {value!r}")
        self._timeout = timeout
        self._limits = Limits(call_timeout, max_response_bytes)
        self._retries = retries
        self._flags = {tool: dict(values) for tool, values in (flags or {}).items()}
        for tool, values in self._flags.items():
            if unknown := set(values) - _FLAGS:
                raise UserError(
                    f"flags for {tool}: unknown {sorted(unknown)}; use {sorted(_FLAGS)}"
                )
        self._name = name or "openapi"
        self._named = name is not None
        self._transport = transport
        self._client: httpx2.AsyncClient | None = None
        self._tools: list[Tool] = []
        self._listeners: list[Callable[[], None]] = []

    # -- ToolSource ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The source's identifier (prefixes its tools' names where they clash)."""
        return self._name

    @property
    def tools(self) -> list[Tool]:
        """One tool per operation; empty while closed."""
        return list(self._tools)

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every change of `tools`."""
        self._listeners.append(callback)

    async def open(self) -> None:
        """Read the spec and start the HTTP client.

        Raises:
            UserError: The spec cannot be read, or is not usable OpenAPI 3.
        """
        if self._client is not None:
            return
        headers = dict(self._headers)
        register_credentials(headers)  # every sink hides them
        token = os.environ.get(self._bearer_env) if self._bearer_env else None
        if token:
            register_secret(token)
            headers["Authorization"] = f"Bearer {token}"
        client = httpx2.AsyncClient(
            headers=headers,
            timeout=self._timeout,
            transport=self._transport,
            follow_redirects=False,  # a redirect to another origin would take the token
        )
        try:
            document, spec_url = await self._document(client)
            ops = operations(document)
            client.base_url = httpx2.URL(self._base_url or _base_url(document, spec_url))
        except BaseException:
            await client.aclose()
            raise
        title = str((document.get("info") or {}).get("title") or "")
        if not self._named and title:
            self._name = "_".join(title.lower().split())
        self._client = client
        self._set_tools([self._tool(op) for op in ops])

    async def aclose(self) -> None:
        """Stop the HTTP client; the tools leave."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        self._set_tools([])

    async def __aenter__(self) -> OpenAPISource:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- internals ----------------------------------------------------------------------

    async def _document(self, client: httpx2.AsyncClient) -> tuple[Mapping[str, Any], str | None]:
        spec = self._spec
        if isinstance(spec, Mapping):
            return spec, None
        text = str(spec)
        if urlsplit(text).scheme in ("http", "https"):
            try:
                fetched = await fetch(client, text, self._limits)
            except (httpx2.HTTPError, ValueError) as exc:
                raise UserError(f"cannot fetch the OpenAPI spec {text}: {cut(exc)}") from exc
            return _parse(fetched, text), text
        return await asyncio.to_thread(_read, text), None

    def _set_tools(self, tools: list[Tool]) -> None:
        self._tools = tools
        for callback in self._listeners:
            callback()

    def _tool(self, op: Operation) -> Tool:
        read_only = op.method in ("GET", "HEAD", "OPTIONS")
        flags = {
            "read_only": read_only,
            "idempotent": read_only or op.method in ("PUT", "DELETE"),
            "destructive": not read_only,
        }
        flags.update(self._flags.get(op.name, {}))
        if flags["read_only"]:
            flags["destructive"] = False

        async def call(**arguments: Any) -> object:
            return await self._call(op, arguments)

        return Tool.from_schema(
            op.name,
            op.description,
            op.parameters,
            call,
            returns=op.returns,
            return_schema=op.return_schema,
            retries=self._retries if flags["read_only"] else 0,
            metadata={
                "source": self.name,
                "kind": "openapi",
                "operation": f"{op.method} {op.path}",
            },
            **flags,
        )

    async def _call(self, op: Operation, arguments: Mapping[str, Any]) -> object:
        client = self._client
        if client is None:
            raise ToolError(
                op.name, "the OpenAPI source is closed", args=arguments, kind="unavailable"
            )
        return await exchange(client, op, arguments, self._limits)


def _read(where: str) -> Mapping[str, Any]:
    path = Path(where).expanduser()
    if not path.is_file():
        raise UserError(f"no OpenAPI spec at {path}")
    return _parse(path.read_text(encoding="utf-8"), str(path))


def _parse(text: str, where: str) -> Mapping[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        try:
            import yaml
        except ImportError:
            raise UserError(f"{where} is not JSON (install PyYAML to read YAML specs)") from None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UserError(f"{where} is neither JSON nor YAML: {exc}") from exc
    if not isinstance(document, Mapping):
        raise UserError(f"{where} is not an OpenAPI document")
    return document


def _base_url(document: Mapping[str, Any], spec_url: str | None) -> str:
    servers = document.get("servers") or []
    url = str(servers[0].get("url", "")) if servers and isinstance(servers[0], Mapping) else ""
    if spec_url is not None:
        url = urljoin(spec_url, url or "/")
    if urlsplit(url).scheme not in ("http", "https"):
        raise UserError(
            "the spec names no absolute server URL: give the service's address "
            "(OpenAPISource(..., base_url=URL), or openapi:SPEC@URL in --tools)"
        )
    return url.rstrip("/") + "/"
