"""Example questions for tool documents, written by a model once and cached on disk.

Toolshed's tool knowledge base adds to each tool document questions a user might ask
of it; retrieval then matches requests against the way people ask, not only against
the way tools describe themselves. The questions come from the tool's own document,
never from a test set. The cache is a JSON file keyed by the tool's content
fingerprint, written after every tool so that an interrupted run loses nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from toolweave.errors import UserError
from toolweave.models import Model, ModelSettings
from toolweave.retrieval._text import tool_document, tool_fingerprint
from toolweave.tools import Tool

__all__ = ["EXAMPLES_PROMPT", "ExampleWriter"]

EXAMPLES_PROMPT = """\
Here is a tool an assistant can use:

{document}

Write {n} different requests that a user might type when they need this tool. Vary the
wording and the details; do not name the tool. One request per line, nothing else."""
"""The default prompt: the one the cached questions of `evals/cache/` were written with."""
_LINE = re.compile(r"^\s*(?:\d+[.)]|[-*•])?\s*[\"']?(.*?)[\"']?\s*$")


class ExampleWriter:
    """Writes example questions for tools with a model, and caches them.

    Args:
        model: Any model (the local one works, at a few seconds a tool); `None` to
            read the cache only.
        cache: The JSON file to keep questions in.
        per_tool: How many questions per tool.
        prompt: What the model is asked, with ``{document}`` and ``{n}`` in it; the
            questions of another prompt belong in another cache.
    """

    def __init__(
        self,
        model: Model | None,
        cache: str | Path,
        *,
        per_tool: int = 5,
        prompt: str = EXAMPLES_PROMPT,
    ) -> None:
        self.model = model
        self.cache = Path(cache).expanduser()
        self.per_tool = per_tool
        self.prompt = prompt
        self._store: dict[str, list[str]] = (
            json.loads(self.cache.read_text()) if self.cache.is_file() else {}
        )

    def cached(self, tools: Iterable[Tool]) -> dict[str, list[str]]:
        """The questions already written for these tools, by tool name."""
        return {
            t.name: self._store[fp] for t in tools if (fp := tool_fingerprint(t)) in self._store
        }

    async def write(
        self, tools: Iterable[Tool], *, progress: Callable[[int, int], None] | None = None
    ) -> dict[str, list[str]]:
        """Questions for every tool, writing the missing ones; returns them by name.

        Args:
            tools: The tools.
            progress: Called with (done, total) after each tool written.
        """
        tools = list(tools)
        missing = [t for t in tools if tool_fingerprint(t) not in self._store]
        for done, tool in enumerate(missing, 1):
            self._store[tool_fingerprint(tool)] = await self._ask(tool)
            self._save()
            if progress is not None:
                progress(done, len(missing))
        return self.cached(tools)

    async def _ask(self, tool: Tool) -> list[str]:
        if self.model is None:
            raise UserError(
                f"no example questions cached for {tool.name}, and no model to write them"
            )
        prompt = self.prompt.format(document=tool_document(tool), n=self.per_tool)
        settings = ModelSettings(max_tokens=60 * self.per_tool, temperature=0.0)
        async with self.model.stream([{"role": "user", "content": prompt}], settings) as reply:
            async for _ in reply:
                pass
        questions = []
        for line in reply.text.splitlines():
            match = _LINE.match(line)
            text = match.group(1).strip() if match else ""
            if len(text.split()) >= 3:
                questions.append(text)
        return questions[: self.per_tool]

    def _save(self) -> None:
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        partial = self.cache.with_suffix(".partial")
        partial.write_text(json.dumps(self._store, ensure_ascii=False, indent=0))
        partial.replace(self.cache)
