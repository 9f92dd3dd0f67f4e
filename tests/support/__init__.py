"""What the tests share: servers, tools and helpers, imported as ``support.<module>``.

- `openai_server`: a loopback server speaking the OpenAI protocol, scripted replies.
- `mcp_server`, `mcp_hostile`, `mcp_fixtures`: MCP servers (an SDK one, a hostile raw
  one), run over stdio as scripts by path or over streamable HTTP in process.
- `openapi_service`, `hostile_http`: OpenAPI services on loopback, a fair and a hostile one.
- `isolated_tools`, `repl_tools`, `hostile_tools`, `session_writers`: tools and workers
  that other processes import by module name (process workers, the CLI, the REPL).
- `helpers`: small tools, and waits on what another process does.
- `benchmarks`: the benchmark modules the fault-campaign tests drive, loaded by path.

The folder above (tests/) is on the import path (``pythonpath`` in pyproject.toml); a
subprocess that imports a support module gets it as ``PYTHONPATH``.
"""
