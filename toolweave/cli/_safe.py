"""Text from models and tools is data: shown without effects, stored without secrets.

- `clean` makes text safe for the terminal: escape sequences and other control
  characters are removed (a tool's output cannot move the cursor, retitle the window or
  restyle the screen), and long text is cut with an ellipsis. Rich markup is not a
  concern here: the CLI's console has markup off, and styled parts are `Text` objects.
- `redact` and `redact_text` keep secrets out of the run log and the REPL history: the
  values of parameters whose names look like credentials, and strings shaped like
  common API keys and bearer tokens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "clean", "one_line", "redact", "redact_text"]

REDACTED = "[redacted]"

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other two-byte ESC sequences,
# the 8-bit CSI/OSC forms, then any control character left but newline and tab.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d[^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)
_SECRET_NAME = re.compile(
    r"^(?:token|apikey|password|passwd|passphrase|pwd|secret|authorization|credentials?"
    r"|cookie)$"
    r"|(?:api|access|secret|private|auth|signing|client)[_\-]?key$"
    r"|(?:access|refresh|auth|bearer|id|session|api|csrf|oauth)[_\-]?token$"
    r"|[_\-.](?:password|passwd|passphrase|secret|authorization|credentials?|cookie)$"
    r"|session[_\-]?id$",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}"  # OpenAI-style and similar keys
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack tokens
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bBearer\s+[A-Za-z0-9._~+/\-]{12,}=*",
)


def clean(text: object, limit: int | None = None) -> str:
    """`text` without terminal control sequences, cut to `limit` characters."""
    out = _CONTROL.sub("", str(text))
    if limit is not None and len(out) > limit:
        out = out[: max(limit - 1, 0)] + "…"
    return out


def one_line(text: object, limit: int | None = None) -> str:
    """`clean`, with all whitespace (newlines included) collapsed to single spaces."""
    return clean(" ".join(_CONTROL.sub(" ", str(text)).split()), limit)


# `api_key="..."`, `password=hunter2`, `"token": "..."`: a field's name, then its value
_FIELD = re.compile(
    r"""(?<![\w\-])(["']?)([A-Za-z_][\w\-]*)\1(\s*[=:]\s*)"""
    r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;)}\]]+)"""
)


def _mask_field(match: re.Match[str]) -> str:
    if not _SECRET_NAME.search(match.group(2)):
        return match.group(0)
    value = match.group(4)
    quote = value[0] if value[0] in "\"'" else ""
    return (
        f"{match.group(1)}{match.group(2)}{match.group(1)}{match.group(3)}{quote}{REDACTED}{quote}"
    )


def redact_text(text: str) -> str:
    """`text` with secret-named fields' values and key-shaped strings replaced."""
    return _SECRET_VALUE.sub(REDACTED, _FIELD.sub(_mask_field, text))


def redact(value: Any) -> Any:
    """A copy of JSON-like `value`: secret-named keys' values and key-shaped strings hidden."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED
            if isinstance(key, str) and _SECRET_NAME.search(key) and value[key] not in (None, "")
            else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
