"""One HTTP exchange of an OpenAPI tool, bounded in time and in memory.

The arguments become a request that stays inside the service: each path parameter is
one percent-encoded segment (``/``, ``?``, ``#`` and ``%`` included) and a dot segment
(``.``, ``..``) or an empty one is refused, since HTTP clients remove dot segments and
``files/..`` would name the parent collection; a header value must be sendable as it
is (no line break, no control character). These are the caller's errors: a `ToolError`
of kind ``invalid_arguments``, raised before anything is sent, never retried.

The answer is read as a stream under one deadline for the whole exchange (a service
that drips a byte at a time cannot hold a call forever) and up to a byte cap (a huge or
endless body, or a gzip bomb, stops at the cap). Redirects are not followed: a 30x is
an error that names where it pointed, so the credentials never leave for another origin.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2

from toolweave.errors import ToolError
from toolweave.sources._openapi_spec import Operation

__all__ = ["Limits", "exchange", "fetch", "size"]

_SHOWN = 300  # characters of an error body, or of a foreign message, put into a ToolError
_ERROR_BODY = 4096  # bytes of an error body read: enough for what is shown
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")  # what RFC 9110 lets a field value hold
_TEMPLATE = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True, slots=True)
class Limits:
    """What one exchange may take: seconds from sending to the last byte, body bytes."""

    call_timeout: float
    max_bytes: int


class _TooLarge(Exception):
    """The body went past the byte cap."""


def size(count: int) -> str:
    """A byte count in words: ``16 MiB``, ``512 KiB``, ``100 bytes``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale and count % scale == 0:
            return f"{count // scale} {unit}"
    return f"{count} bytes"


def cut(text: object, limit: int = _SHOWN) -> str:
    """`text` on one line, at most `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


async def exchange(
    client: httpx2.AsyncClient, op: Operation, arguments: Mapping[str, Any], limits: Limits
) -> object:
    """Call `op` with `arguments`: the decoded JSON answer, its text, or ``None``.

    Raises:
        ToolError: The arguments cannot be sent (``invalid_arguments``), the deadline
            passed (``timeout``), the body is over the cap, the status is not 2xx, or
            the answer says JSON and is not.
        TimeoutError: One read timed out (the client's ``timeout``): worth a retry.
        ConnectionError: The connection failed or dropped: worth a retry.
    """
    request = _request(client, op, arguments)
    where = f"{op.method} {op.path}"
    try:
        async with asyncio.timeout(limits.call_timeout):
            response = await client.send(request, stream=True)
            try:
                ok = response.is_success
                data = await _body(response, limits.max_bytes if ok else _ERROR_BODY, cap=ok)
            finally:
                await response.aclose()
    except TimeoutError as exc:  # the deadline of the whole exchange: not retried
        raise ToolError(
            op.name,
            f"no complete response within {limits.call_timeout:g}s (the source's call_timeout)",
            args=arguments,
            kind="timeout",
        ) from exc
    except _TooLarge as exc:
        raise ToolError(
            op.name,
            f"the response is larger than {size(limits.max_bytes)} (the source's "
            "max_response_bytes); ask for less, or raise the cap",
            args=arguments,
        ) from exc
    except httpx2.TimeoutException as exc:
        raise TimeoutError(f"{where}: {cut(exc)}") from exc  # retried if safe
    except httpx2.TransportError as exc:
        raise ConnectionError(f"{where}: {cut(exc) or type(exc).__name__}") from exc
    except httpx2.HTTPError as exc:  # a body that cannot be decoded, for one
        raise ToolError(op.name, f"{type(exc).__name__}: {cut(exc)}", args=arguments) from exc
    if not ok:
        raise ToolError(op.name, _status(response, data), args=arguments)
    if not data:
        return None
    if "json" in response.headers.get("content-type", ""):
        try:
            return json.loads(data)
        except ValueError as exc:  # JSONDecodeError, or bytes in no Unicode encoding
            raise ToolError(
                op.name, f"the response says JSON but is not valid JSON: {cut(exc)}", args=arguments
            ) from exc
        except RecursionError as exc:  # '[[[[...' a hundred thousand deep
            raise ToolError(
                op.name, "the response's JSON is nested too deeply to read", args=arguments
            ) from exc
    return _text(response, data)


async def fetch(client: httpx2.AsyncClient, url: str, limits: Limits) -> str:
    """The text at `url`, under the same deadline and cap as a call (for the spec).

    Raises:
        ValueError: The answer is not 2xx, too large or too slow (its message says).
        httpx2.HTTPError: The request failed.
    """
    try:
        async with asyncio.timeout(limits.call_timeout):
            async with client.stream("GET", url) as response:
                data = await _body(response, limits.max_bytes, cap=True)
    except TimeoutError:
        raise ValueError(f"no complete response within {limits.call_timeout:g}s") from None
    except _TooLarge:
        raise ValueError(f"larger than {size(limits.max_bytes)}") from None
    if not response.is_success:
        raise ValueError(_status(response, data))
    return _text(response, data)


def _request(
    client: httpx2.AsyncClient, op: Operation, arguments: Mapping[str, Any]
) -> httpx2.Request:
    segments: dict[str, str] = {}
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    fields: dict[str, Any] = {}
    body: Any = None
    for arg in op.arguments:
        value = arguments.get(arg.name)
        if value is None:
            if arg.location == "path":
                raise _invalid(op, arguments, f"the path parameter {arg.wire!r} is missing")
            continue
        if arg.location == "path":
            segments[arg.wire] = _segment(op, arguments, arg.wire, value)
        elif arg.location == "query":
            query[arg.wire] = (
                [_plain(v) for v in value] if isinstance(value, list) else _plain(value)
            )
        elif arg.location == "header":
            headers[arg.wire] = _header(op, arguments, arg.wire, value)
        elif arg.location == "body":
            fields[arg.wire] = value
        else:
            body = value
    # one pass over the template, so that a value can never be read as another template
    path = _TEMPLATE.sub(lambda m: segments.get(m[1], m[0]), op.path)
    try:
        request = client.build_request(
            op.method,
            path.lstrip("/"),
            params=query or None,
            headers=headers or None,
            json=fields or body,
        )
    except (httpx2.InvalidURL, ValueError, TypeError) as exc:
        raise _invalid(op, arguments, f"the request cannot be built: {cut(exc)}") from exc
    if not _inside(request.url, client.base_url):
        raise _invalid(op, arguments, f"the request would leave the service: {cut(request.url)}")
    return request


def _segment(op: Operation, arguments: Mapping[str, Any], wire: str, value: object) -> str:
    text = _plain(value)
    if text in ("", ".", ".."):
        what = "empty" if not text else f"{text!r}, a dot segment that would climb the path"
        raise _invalid(op, arguments, f"the path parameter {wire!r} is {what}")
    return quote(text, safe="")  # one segment: '/', '?', '#' and '%' encoded too


def _header(op: Operation, arguments: Mapping[str, Any], wire: str, value: object) -> str:
    # whitespace around a field value is not part of it (RFC 9110 5.5), and h11 refuses it
    text = _plain(value).strip(" \t")
    if not _HEADER_VALUE.fullmatch(text):
        raise _invalid(
            op,
            arguments,
            f"the header parameter {wire!r} holds a character a header cannot carry "
            f"(a line break, a control character or non-ASCII): {cut(repr(text), 80)}",
        )
    return text


def _invalid(op: Operation, arguments: Mapping[str, Any], message: str) -> ToolError:
    return ToolError(op.name, message, args=arguments, kind="invalid_arguments")


def _inside(url: httpx2.URL, base: httpx2.URL) -> bool:
    """Whether `url` is on `base`'s origin, under its path (no request leaves the spec)."""
    return (url.scheme, url.host, url.port) == (
        base.scheme,
        base.host,
        base.port,
    ) and url.raw_path.split(b"?")[0].startswith(base.raw_path)


async def _body(response: httpx2.Response, limit: int, *, cap: bool) -> bytearray:
    """At most `limit` bytes of the (decoded) body: past it, `_TooLarge` or a cut."""
    declared = response.headers.get("content-length", "")
    if cap and declared.isdigit() and int(declared) > limit:
        raise _TooLarge  # said so up front: nothing to read
    data = bytearray()
    async for chunk in response.aiter_bytes():  # decoded in bounded pieces (gzip bombs)
        data += chunk
        if len(data) > limit:
            if cap:
                raise _TooLarge
            del data[limit:]
            break
    return data


def _status(response: httpx2.Response, data: bytearray) -> str:
    message = f"HTTP {response.status_code} {cut(response.reason_phrase, 80)}".rstrip()
    if response.is_redirect:
        where = cut(response.headers.get("location", "nowhere"), 200)
        return f"{message}: redirects are not followed (to {where})"
    shown = cut(_text(response, data))
    return f"{message}: {shown}" if shown else message


def _text(response: httpx2.Response, data: bytearray) -> str:
    try:
        return data.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return data.decode("utf-8", errors="replace")


def _plain(value: object) -> str:
    """A parameter's value as it goes in a path, a query or a header."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
