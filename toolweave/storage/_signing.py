"""State that leaves the process: its canonical JSON form, and a MAC that says it is unchanged.

Given a key, `sign` adds a MAC (HMAC-SHA256 over the state's canonical JSON) and `verify`
refuses a state whose MAC is missing or wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, cast

from pydantic_core import to_jsonable_python

from toolweave.errors import StateError, UserError

__all__ = ["MAC_FIELD", "canonical", "jsonable", "sign", "verify"]

MAC_FIELD = "mac"
_MAC_SCHEME = "hmac-sha256:"
_MIN_KEY_BYTES = 16


def jsonable(value: object) -> Any:
    """`value` as JSON-ready data; what JSON cannot hold becomes its text."""
    return to_jsonable_python(value, fallback=str)


def canonical(value: object) -> str:
    """`value`'s JSON form as one canonical text: sorted keys, no spaces, ASCII.

    Sets become sorted lists: their order is the hash order of one process, and a state
    is checked in another. Lone surrogates (an OS-decoded file name) stay escaped.
    """
    return json.dumps(
        jsonable(_ordered(value)), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )


def _ordered(value: object) -> object:
    if isinstance(value, set | frozenset):
        return sorted((_ordered(item) for item in value), key=canonical)
    if isinstance(value, Mapping):
        return {key: _ordered(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_ordered(item) for item in value]
    return value


def _mac(data: Mapping[str, Any], key: bytes | str) -> str:
    secret = key.encode() if isinstance(key, str) else key
    if not isinstance(secret, bytes) or len(secret) < _MIN_KEY_BYTES:
        raise UserError(f"a state key is bytes or text of at least {_MIN_KEY_BYTES} bytes")
    body = canonical({k: v for k, v in data.items() if k != MAC_FIELD}).encode()
    return _MAC_SCHEME + hmac.new(secret, body, hashlib.sha256).hexdigest()


def sign(data: Mapping[str, Any], key: bytes | str) -> dict[str, Any]:
    """`data` (a JSON-ready state) with its MAC under `key` added."""
    plain = json.loads(json.dumps(data, ensure_ascii=False, default=str))  # as it will be read
    plain[MAC_FIELD] = _mac(plain, key)
    return cast(dict[str, Any], plain)


def verify(data: Mapping[str, Any], key: bytes | str) -> None:
    """Refuse `data` unless it carries the MAC that `key` gives it.

    Raises:
        StateError: The MAC is missing or does not match.
    """
    given = data.get(MAC_FIELD)
    if not isinstance(given, str):
        raise StateError("the state carries no MAC, but a key was given to check it")
    if not hmac.compare_digest(given.encode(), _mac(data, key).encode()):
        raise StateError(
            "the state's MAC does not match: it was changed after it was signed, "
            "or signed with another key"
        )
