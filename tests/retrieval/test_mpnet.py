"""MPNetEmbedder: the numpy encoder on a tiny model, the weights taken out of split parts,
and (where installed) the real all-mpnet-base-v2."""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from toolweave import UserError
from toolweave.retrieval import MPNetEmbedder, Retriever, _mpnet_files, tool_document
from toolweave.retrieval._mpnet import relative_buckets
from toolweave.retrieval._mpnet_files import read_safetensors
from toolweave.tools import Tool

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
    tensors: dict[str, np.ndarray] = {
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


def reference_states(tensors: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """MPNet's encoder for one unpadded text as the reference model computes it: float64,
    one head at a time, the exact erf GELU, position ids counted over non-pad tokens."""
    w = {name: value.astype(np.float64) for name, value in tensors.items()}
    heads = w["encoder.relative_attention_bias.weight"].shape[1]
    tokens = np.array(ids)
    real = (tokens != 1).astype(int)
    positions = np.cumsum(real) * real + 1

    def norm(x: np.ndarray, prefix: str) -> np.ndarray:
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        scaled: np.ndarray = (x - mean) / np.sqrt(var + 1e-5)
        return scaled * w[prefix + ".weight"] + w[prefix + ".bias"]

    def linear(x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ w[prefix + ".weight"].T + w[prefix + ".bias"]

    def bucket(query: int, key: int) -> int:  # modeling_mpnet's relative_position_bucket
        n = query - key  # minus (key - query)
        result = 16 if n < 0 else 0
        n = abs(n)
        if n < 8:
            return result + n
        return result + min(8 + int(math.log(n / 8) / math.log(128 / 8) * 8), 15)

    x = w["embeddings.word_embeddings.weight"][tokens]
    x = norm(x + w["embeddings.position_embeddings.weight"][positions], "embeddings.LayerNorm")
    length, width = x.shape
    size = width // heads
    layers = len({n.split(".")[2] for n in tensors if n.startswith("encoder.layer.")})
    for i in range(layers):
        p = f"encoder.layer.{i}."
        q, k, v = (linear(x, f"{p}attention.attn.{c}") for c in "qkv")
        context = np.zeros_like(x)
        for h in range(heads):
            cols = slice(h * size, (h + 1) * size)
            scores = q[:, cols] @ k[:, cols].T / math.sqrt(size)
            for a in range(length):
                for b in range(length):
                    scores[a, b] += w["encoder.relative_attention_bias.weight"][bucket(a, b), h]
            probs = np.exp(scores - scores.max(1, keepdims=True))
            context[:, cols] = probs / probs.sum(1, keepdims=True) @ v[:, cols]
        x = norm(linear(context, p + "attention.attn.o") + x, p + "attention.LayerNorm")
        inner = linear(x, p + "intermediate.dense")
        inner = 0.5 * inner * (1 + np.vectorize(math.erf)(inner / math.sqrt(2)))
        x = norm(linear(inner, p + "output.dense") + x, p + "output.LayerNorm")
    return x


def test_encoder_matches_the_reference_computation(tmp_path: Path) -> None:
    """Padded batches against the reference, one text at a time; a `<pad>` id inside a text
    (position ids skip it, as the reference's do) and texts longer than 8 tokens (the
    logarithmic buckets) included."""
    directory = tiny_model(tmp_path)
    tensors = read_safetensors(directory / "model.safetensors")
    encoder = MPNetEmbedder(path=directory)._encoder
    texts = [[0, 4, 2], [0, 5, 6, 7, 8, 9, 10, 11, 12, 4, 5, 6, 7, 2], [0, 8, 1, 9, 2]]
    longest = max(map(len, texts))
    ids = np.ones((len(texts), longest), np.int64)
    mask = np.zeros((len(texts), longest), np.float32)
    for row, text in enumerate(texts):
        ids[row, : len(text)] = text
        mask[row, : len(text)] = 1
    mask[2, 2] = 1  # the <pad> inside the third text is attended, as the tokenizer marks it
    states = encoder(ids, mask)
    for row, text in enumerate(texts):
        expected = reference_states(tensors, text)
        np.testing.assert_allclose(states[row, : len(text)], expected, atol=2e-5)


def test_max_length_and_batch_size_are_checked(tmp_path: Path) -> None:
    directory = tiny_model(tmp_path)  # 40 positions: 38 tokens at most
    assert MPNetEmbedder(path=directory, max_length=38).embed(["city " * 60]).shape == (1, 8)
    with pytest.raises(UserError, match="1 to 38 tokens"):
        MPNetEmbedder(path=directory, max_length=39)
    with pytest.raises(UserError, match="not 0"):
        MPNetEmbedder(path=directory, batch_size=0)


def test_the_name_tells_other_weights_and_limits_apart(tmp_path: Path) -> None:
    """A saved index is reused only by the same name: another model or limit is rebuilt."""
    one, two = tiny_model(tmp_path / "one"), tiny_model(tmp_path / "two", seed=1)
    names = {
        MPNetEmbedder(path=one).name,
        MPNetEmbedder(path=two).name,
        MPNetEmbedder(path=one, max_length=20).name,
    }
    assert len(names) == 3
    assert all(name.startswith("all-mpnet-base-v2@") for name in names)


def test_broken_safetensors_are_user_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    write_safetensors(good, {"a": np.arange(6, dtype=np.float32)})
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-4])
    with pytest.raises(UserError, match="cut short"):
        read_safetensors(cut)
    other = tmp_path / "bf16.safetensors"
    header = json.dumps({"a": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}).encode()
    other.write_bytes(len(header).to_bytes(8, "little") + header + b"\0\0")
    with pytest.raises(UserError, match="BF16"):
        read_safetensors(other)
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="not a readable"):
        read_safetensors(empty)


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


SplitModel = tuple[dict[str, bytes], list[Path]]  # the files, and the parts they are split into


@pytest.fixture
def split_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, bytes], list[Path]]:
    """The tiny model's files as a split zip standing in for the five installed parts."""
    model = tiny_model(tmp_path / "tiny")
    files = {name: (model / name).read_bytes() for name in ("model.safetensors", "tokenizer.json")}
    parts = split_parts(tmp_path, files)
    expected = {name: (len(data), hashlib.sha256(data).hexdigest()) for name, data in files.items()}
    monkeypatch.setattr(_mpnet_files, "_parts", lambda: parts)
    monkeypatch.setattr(_mpnet_files, "_FILES", expected)
    monkeypatch.setenv("TOOLWEAVE_CACHE", str(tmp_path / "cache"))
    return files, parts


def test_weights_are_taken_out_of_the_parts_and_checked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    split_model: tuple[dict[str, bytes], list[Path]],
) -> None:
    files, parts = split_model
    directory = _mpnet_files.mpnet_dir()
    assert directory == tmp_path / "cache" / "all-mpnet-base-v2"
    for name, data in files.items():
        assert (directory / name).read_bytes() == data
    assert not list(directory.glob("*.partial"))
    assert MPNetEmbedder().dim == 8  # the default embedder loads what was taken out

    monkeypatch.setattr(_mpnet_files, "_parts", lambda: pytest.fail("the parts are not needed"))
    assert _mpnet_files.mpnet_dir() == directory  # checked: reused as it is
    os.utime(directory / "tokenizer.json", ns=(1, 1))  # touched, not changed: hashed again
    assert _mpnet_files.mpnet_dir() == directory

    monkeypatch.setattr(_mpnet_files, "_parts", lambda: parts)
    (directory / "tokenizer.json").write_bytes(b"tampered")  # changed: taken out again
    assert _mpnet_files.mpnet_dir() == directory
    assert (directory / "tokenizer.json").read_bytes() == files["tokenizer.json"]

    expected = dict(_mpnet_files._FILES)
    wrong = dict(expected, **{"tokenizer.json": (expected["tokenizer.json"][0], "0" * 64)})
    monkeypatch.setattr(_mpnet_files, "_FILES", wrong)  # other checksums: the stamp no longer holds
    with pytest.raises(UserError, match="does not match the expected file"):
        _mpnet_files.mpnet_dir()
    assert not list(directory.glob("*.partial"))


@pytest.mark.parametrize("damage", ["corrupt", "truncate"])
def test_broken_parts_are_user_errors_and_leave_nothing(
    damage: str, split_model: SplitModel, tmp_path: Path
) -> None:
    _, parts = split_model
    data = bytearray(parts[2].read_bytes())
    if damage == "corrupt":
        data[len(data) // 2] ^= 0xFF  # inside the compressed model: a CRC or a hash fails
        parts[2].write_bytes(bytes(data))
    else:
        parts[4].write_bytes(parts[4].read_bytes()[:-30])  # the zip's directory, cut
    with pytest.raises(UserError, match="reinstall"):
        _mpnet_files.mpnet_dir()
    directory = tmp_path / "cache" / "all-mpnet-base-v2"
    assert not list(directory.glob("*.partial"))
    assert not (directory / "checked").exists()


def test_joined_parts_read_and_seek_as_one_file(tmp_path: Path) -> None:
    whole = bytes(range(256)) * 4
    paths = []
    for i, (start, end) in enumerate([(0, 100), (100, 101), (101, 700), (700, 1024)]):
        paths.append(tmp_path / f"p{i}")
        paths[-1].write_bytes(whole[start:end])
    joined = _mpnet_files._Joined(paths)
    assert joined.read(150) == whole[:150]  # across the first two boundaries
    assert joined.tell() == 150
    joined.seek(-30, io.SEEK_END)
    assert joined.read() == whole[-30:]
    joined.seek(95)
    joined.seek(10, io.SEEK_CUR)
    assert joined.read(600) == whole[105:705]
    assert joined.read(0) == b""
    with pytest.raises(ValueError, match="cannot seek"):
        joined.seek(-1)


def test_missing_parts_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_mpnet_files, "_DISTRIBUTIONS", ["toolweave-no-such-part-001"])
    with pytest.raises(UserError, match="make install-mpnet"):
        _mpnet_files._parts()


def _installed() -> bool:
    try:
        importlib.metadata.distribution(_mpnet_files._DISTRIBUTIONS[0])
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


def test_command_line_searches_with_the_mpnet_embedder(
    split_model: SplitModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tools search --embedder mpnet` takes the weights out of the parts (here the tiny
    model's), builds the index in the cache, and lists tools; the second time it loads it."""
    from toolweave.cli import main

    query = ["tools", "search", "how many people live in Peru", "--embedder", "mpnet"]
    assert main([*query, "-k", "2", "--mode", "bm25"]) == 0
    assert "population" in capsys.readouterr().out
    indexes = list((tmp_path / "cache" / "index").iterdir())
    assert [p.name.rsplit("-", 1)[1] for p in indexes] == ["mpnet"]
    written = (indexes[0] / "index.json").stat().st_mtime_ns
    assert main([*query, "-k", "2"]) == 0
    assert (indexes[0] / "index.json").stat().st_mtime_ns == written  # loaded, not rebuilt
