"""placeholder"""

from __future__ import annotations

__all__ = ["OpenAPISource"]


class OpenAPISource:
    """placeholder."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
