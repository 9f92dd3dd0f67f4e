"""MPNetEmbedder: the numpy encoder on a tiny model, the weights taken out of split parts,
and (where installed) the real all-mpnet-base-v2."""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from toolweave import UserError
from toolweave.tools import MPNetEmbedder, Retriever, Tool, _mpnet, tool_document
from toolweave.tools._mpnet import read_safetensors, relative_buckets

SPECIAL = ["<s>", "<pad>", "</s>", "[UNK]"]  # MPNet's ids 0 to 3
WORDS = [*SPECIAL, "weather", "rain", "forecast", "city", "stock", "price", "share", "buy", "sell"]


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """The format as published: an 8-byte header length, a JSON header, the raw data."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    codes = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}
    for name, array in tensors.items():
        blob = np.ascontiguousarray(array).tobytes()
        header[name] = {
            "dtype": codes[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    encoded = json.dumps(header).encode()
    path.write_bytes(len(encoded).to_bytes(8, "little") + encoded + b"".join(blobs))


def tiny_model(directory: Path, *, seed: int = 0) -> Path:
    """A two-layer MPNet of width 8 (two heads) with random weights, and a word tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    rng = np.random.default_rng(seed)
    width, inner, heads = 8, 16, 2

    def rand(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.5, shape).astype(np.float32)

    tensors = {
        "embeddings.word_embeddings.weight": rand(len(WORDS), width),
        "embeddings.position_embeddings.weight": rand(40, width),
        "embeddings.LayerNorm.weight": 1 + rand(width),
        "embeddings.LayerNorm.bias": rand(width),
        "encoder.relative_attention_bias.weight": rand(32, heads),
        "embeddings.position_ids": np.arange(40, dtype=np.int64)[None],
    }
    for i in range(2):
        p = f"encoder.layer.{i}."
        for c in "qkvo":
            tensors[f"{p}attention.attn.{c}.weight"] = rand(width, width)
            tensors[f"{p}attention.attn.{c}.bias"] = rand(width)
        tensors[p + "attention.LayerNorm.weight"] = 1 + rand(width)
        tensors[p + "attention.LayerNorm.bias"] = rand(width)
        tensors[p + "intermediate.dense.weight"] = rand(inner, width)
        tensors[p + "intermediate.dense.bias"] = rand(inner)
        tensors[p + "output.dense.weight"] = rand(width, inner)
        tensors[p + "output.dense.bias"] = rand(width)
        tensors[p + "output.LayerNorm.weight"] = 1 + rand(width)
        tensors[p + "output.LayerNorm.bias"] = rand(width)
    directory.mkdir(parents=True, exist_ok=True)
    write_safetensors(directory / "model.safetensors", tensors)
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, "[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer.save(str(directory / "tokenizer.json"))
    return directory


def test_relative_buckets_follow_mpnet_formula() -> None:
    """Values worked by hand from the published formula (32 buckets, max distance 128):
    a key before the query in 0..15, after it in 16..31; exact below 8, then logarithmic."""
    buckets = relative_buckets(300)
    query = 150

    def bucket(key_offset: int) -> int:  # the key at query + key_offset
        return int(buckets[query, query + key_offset])

    assert [bucket(-d) for d in (0, 1, 5, 7)] == [0, 1, 5, 7]
    assert [bucket(d) for d in (1, 5, 7)] == [17, 21, 23]
    assert bucket(-8) == 8  # log(8/8) = 0: the first shared bucket
    assert bucket(-20) == 10  # 8 + int(8 * log(20/8) / log(16)) = 8 + 2
    assert bucket(-127) == 15
    assert bucket(-128) == bucket(-149) == 15  # capped at the last bucket
    assert bucket(20) == 26
    assert buckets.shape == (300, 300)


def test_safetensors_reader_round_trip(tmp_path: Path) -> None:
    tensors = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array([[7, 8]], dtype=np.int64),
    }
    write_safetensors(tmp_path / "t.safetensors", tensors)
    read = read_safetensors(tmp_path / "t.safetensors")
    assert set(read) == {"a", "b"}
    np.testing.assert_array_equal(read["a"], tensors["a"])
    np.testing.assert_array_equal(read["b"], tensors["b"])


def test_tiny_model_embeds_unit_vectors_whatever_the_batch(tmp_path: Path) -> None:
    embedder = MPNetEmbedder(path=tiny_model(tmp_path), batch_size=3)
    assert embedder.dim == 8
    texts = ["weather", "stock price share buy sell city rain", "rain forecast", "city"]
    together = embedder.embed(texts)
    assert together.shape == (4, 8)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, rtol=1e-5)
    # Alone, with no padding, each text gets the vector it got beside longer texts: the
    # mask keeps padding out of attention and out of the mean, and positions skip it.
    for text, row in zip(texts, together, strict=True):
        np.testing.assert_allclose(embedder.embed([text])[0], row, atol=1e-5)
    assert not np.allclose(together[0], together[2])  # different texts, different vectors
    assert embedder.embed([]).shape == (0, 8)


def test_tiny_model_serves_a_retriever(tmp_path: Path) -> None:
    tools = [
        Tool.from_schema("forecast", "weather rain forecast city", {"type": "object"}),
        Tool.from_schema("trade", "stock share buy sell price", {"type": "object"}),
    ]
    embedder = MPNetEmbedder(path=tiny_model(tmp_path))
    retriever = Retriever(tools, embedder=embedder, weights=(0.0, 1.0))  # dense alone
    # Random weights mean nothing, but a tool's own document is nearest to itself.
    for tool in tools:
        assert retriever.search(tool_document(tool), 1)[0].tool.name == tool.name


def split_parts(tmp_path: Path, files: dict[str, bytes], count: int = 5) -> list[Path]:
    """A zip of `files` under ``all-mpnet-base-v2/``, cut into `count` pieces."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"all-mpnet-base-v2/{name}", data)
    whole = buffer.getvalue()
    cuts = np.linspace(0, len(whole), count + 1).astype(int)
    paths = []
    for i in range(count):
        path = tmp_path / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        path.write_bytes(whole[cuts[i] : cuts[i + 1]])
        paths.append(path)
    return paths


def test_weights_are_taken_out_of_the_parts_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tiny_model(tmp_path / "tiny")
    files = {name: (model / name).read_bytes() for name in ("model.safetensors", "tokenizer.json")}
    files["model.safetensors"] += bytes(300_000)  # room for the data to span several parts
    parts = split_parts(tmp_path, files)
    expected = {name: (len(data), hashlib.sha256(data).hexdigest()) for name, data in files.items()}
    monkeypatch.setattr(_mpnet, "_parts", lambda: parts)
    monkeypatch.setattr(_mpnet, "_FILES", expected)
    monkeypatch.setenv("TOOLWEAVE_CACHE", str(tmp_path / "cache"))

    directory = _mpnet.mpnet_dir()
    assert directory == tmp_path / "cache" / "all-mpnet-base-v2"
    for name, data in files.items():
        assert (directory / name).read_bytes() == data
    assert not list(directory.glob("*.partial"))

    monkeypatch.setattr(_mpnet, "_parts", lambda: pytest.fail("a checked copy is reused"))
    assert _mpnet.mpnet_dir() == directory

    os.utime(directory / "tokenizer.json", ns=(1, 1))  # changed since checked: taken out again
    monkeypatch.setattr(_mpnet, "_parts", lambda: parts)
    (directory / "tokenizer.json").write_bytes(b"tampered")
    assert _mpnet.mpnet_dir() == directory
    assert (directory / "tokenizer.json").read_bytes() == files["tokenizer.json"]

    wrong = dict(expected, **{"tokenizer.json": (expected["tokenizer.json"][0], "0" * 64)})
    monkeypatch.setattr(_mpnet, "_FILES", wrong)
    (directory / "checked").unlink()
    with pytest.raises(UserError, match="does not match the upstream file"):
        _mpnet.mpnet_dir()


def test_missing_parts_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_mpnet, "_DISTRIBUTIONS", ["toolweave-no-such-part-001"])
    with pytest.raises(UserError, match="make install-mpnet"):
        _mpnet._parts()


def _installed() -> bool:
    try:
        importlib.metadata.distribution(_mpnet._DISTRIBUTIONS[0])
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.mpnet
def test_real_weights_rank_paraphrases_first() -> None:
    if not _installed():
        if os.environ.get("TOOLWEAVE_REQUIRE_MPNET") == "1":
            pytest.fail("all-mpnet-base-v2 is required here but not installed")
        pytest.skip("all-mpnet-base-v2 is not installed (make install-mpnet)")
    embedder = MPNetEmbedder()
    assert (embedder.name, embedder.dim) == ("all-mpnet-base-v2", 768)
    vectors = embedder.embed(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "A man is riding a horse.",
            "A man is riding a white horse on an enclosed ground.",
            "A monkey is playing drums.",
        ]
    )
    similar = vectors @ vectors.T
    assert similar[0, 1] > 0.6  # paraphrases
    assert similar[2, 3] > 0.6
    assert max(similar[0, 4], similar[1, 4], similar[2, 4]) < 0.2  # unrelated
    tools = [
        Tool.from_schema("get_weather", "Current weather and forecast for a city.", {}),
        Tool.from_schema("stock_quote", "Latest price of a stock on an exchange.", {}),
        Tool.from_schema("translate", "Translate text from one language to another.", {}),
    ]
    retriever = Retriever(tools, embedder=embedder, weights=(0.0, 1.0))
    assert retriever.search("will it rain in Oslo tomorrow?", 1)[0].tool.name == "get_weather"
    assert retriever.search("how much is one Apple share?", 1)[0].tool.name == "stock_quote"
