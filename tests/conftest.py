from __future__ import annotations

import pytest
from helpers import make_registry

from toolweave import ToolRegistry


@pytest.fixture
def registry() -> ToolRegistry:
    return make_registry()
