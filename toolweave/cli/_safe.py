"""Text from models and tools is data: shown without effects, stored without secrets.

- `clean` makes text safe for the terminal: escape sequences and other control
  characters are removed (a tool's output cannot move the cursor, retitle the window or
  restyle the screen), and long text is cut with an ellipsis. Rich markup is not a
  concern here: the CLI's console has markup off, and styled parts are `Text` objects.
- `redact` and `redact_text` keep secrets out of the run log and the REPL history. They
  are `toolweave.redaction`'s `redact_value` and `redact_text`: the one mechanism every
  sink uses (docs/redaction.md says what it hides).
"""

from __future__ import annotations

import re

from toolweave.redaction import REDACTED, redact_text
from toolweave.redaction import redact_value as redact

__all__ = ["REDACTED", "clean", "one_line", "redact", "redact_text"]

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


def clean(text: object, limit: int | None = None) -> str:
    """`text` without terminal control sequences, cut to `limit` characters."""
    out = _CONTROL.sub("", str(text))
    if limit is not None and len(out) > limit:
        out = out[: max(limit - 1, 0)] + "…"
    return out


def one_line(text: object, limit: int | None = None) -> str:
    """`clean`, with all whitespace (newlines included) collapsed to single spaces."""
    return clean(" ".join(_CONTROL.sub(" ", str(text)).split()), limit)
