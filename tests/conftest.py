from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import make_registry

from toolweave import ToolRegistry


@pytest.fixture
def registry() -> ToolRegistry:
    return make_registry()


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[None]:
    """A local Ray instance with 2 CPUs, started once for the tests that use Ray."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
