"""What toolweave keeps: owner-only files in the state directory, signed state.

- `state_dir`: where state lives (``$TOOLWEAVE_STATE``, else the XDG state directory);
  `private_dir`, `private_file`, `open_private`: directories 0700 and files 0600;
- `sign`, `verify`, `canonical`: a state's canonical JSON and its HMAC-SHA256.

Layer: above `errors` and `redaction`; imports nothing else of toolweave.
"""

from toolweave.storage._files import open_private, private_dir, private_file, state_dir, tighten
from toolweave.storage._signing import MAC_FIELD, canonical, jsonable, sign, verify

__all__ = [
    "MAC_FIELD",
    "canonical",
    "jsonable",
    "open_private",
    "private_dir",
    "private_file",
    "sign",
    "state_dir",
    "tighten",
    "verify",
]
