"""The ``--tools`` strings of the command line, the same in Python.

```
mcp:stdio:python server.py        an MCP server started as a subprocess
mcp:http://127.0.0.1:8000/mcp     an MCP server over streamable HTTP
openapi:spec.json                 an OpenAPI 3 spec (a file or an http(s) URL)
openapi:spec.json@http://host:80  the same, for the service at that address
myapp.tools:TOOLS                 a list of tools or a ToolRegistry, imported
```

An OpenAPI source named this way sends ``$TOOLWEAVE_OPENAPI_TOKEN``, when it is set,
as a bearer token.
"""

from __future__ import annotations

import importlib

from toolweave.errors import UserError
from toolweave.tools import Tool, ToolRegistry
from toolweave.tools._registry import ToolSource

__all__ = ["OPENAPI_TOKEN_ENV", "parse_spec", "registry_from_specs"]

OPENAPI_TOKEN_ENV = "TOOLWEAVE_OPENAPI_TOKEN"
"""The environment variable whose value an ``openapi:`` source sends as a bearer token."""


def parse_spec(spec: str) -> list[Tool | ToolSource]:
    """The tools and sources that one ``--tools`` string names.

    Raises:
        UserError: The string names nothing usable; the message says what is expected.
    """
    kind, _, rest = spec.partition(":")
    if kind == "mcp":
        try:
            from toolweave.sources._mcp import MCPSource
        except ImportError as exc:
            raise UserError(str(exc)) from exc
        return [MCPSource.from_target(rest)]
    if kind == "openapi":
        from toolweave.sources._openapi import OpenAPISource

        if not rest:
            raise UserError("openapi: wants a spec's path or URL, as in openapi:spec.json")
        where, at, base_url = rest.rpartition("@")
        if at and where and base_url.startswith(("http://", "https://")):
            return [OpenAPISource(where, base_url=base_url, bearer_env=OPENAPI_TOKEN_ENV)]
        return [OpenAPISource(rest, bearer_env=OPENAPI_TOKEN_ENV)]
    return list(_imported(spec))


def registry_from_specs(*specs: str) -> ToolRegistry:
    """A registry from the command line's ``--tools`` strings, mixed as wanted.

    ``mcp:stdio:COMMAND`` (an MCP server started as a subprocess), ``mcp:URL`` (an
    MCP server over streamable HTTP), ``openapi:PATH_OR_URL`` (one tool per
    operation of an OpenAPI 3 spec; ``openapi:PATH_OR_URL@SERVICE_URL`` for a spec
    that does not say where its service runs) and ``MODULE:ATTRIBUTE`` (a list of
    tools or a registry). Sources join when the registry (or the agent) is opened
    with ``async with``.

    Example:
        ```python
        tools = registry_from_specs("mcp:stdio:python server.py", "myapp:TOOLS")
        async with Agent("local", tools=tools) as agent:
            result = await agent.run("...")
        ```
    """
    registry = ToolRegistry()
    for spec in specs:
        for item in parse_spec(spec):
            if isinstance(item, Tool):
                registry.add(item)
            else:
                registry.add_source(item)
    return registry


def _imported(spec: str) -> list[Tool | ToolSource]:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UserError(
            f"--tools wants mcp:stdio:COMMAND, mcp:URL, openapi:SPEC or MODULE:ATTRIBUTE, "
            f"not {spec!r}"
        )
    try:
        value = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"cannot load tools from {spec!r}: {exc}") from exc
    if isinstance(value, ToolRegistry):
        return [*value.own_tools, *value.sources]
    if isinstance(value, Tool | ToolSource):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(t, Tool | ToolSource) for t in value):
        return list(value)
    raise UserError(f"{spec} is neither a ToolRegistry nor a list of tools")
