from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from support.helpers import make_registry

from toolweave import ToolRegistry, UserError
from toolweave.models import LocalModel


@pytest.fixture(autouse=True, scope="session")
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """What the library keeps in the user's state directory stays in the test session's."""
    os.environ["TOOLWEAVE_STATE"] = str(tmp_path_factory.mktemp("state"))


@pytest.fixture
def registry() -> ToolRegistry:
    return make_registry()


@pytest.fixture(scope="session")
def local_model() -> Iterator[LocalModel]:
    """The embedded model, loaded once; a skip without it (a failure where required)."""
    try:
        import llama_cpp  # noqa: F401

        from toolweave.models._weights import default_model_path

        default_model_path()
    except (ImportError, UserError) as exc:
        if os.environ.get("TOOLWEAVE_REQUIRE_LOCAL_MODEL") == "1":
            pytest.fail(f"the local model is required here but unavailable: {exc}")
        pytest.skip(f"the local model is not installed: {exc}")
    local = LocalModel()
    yield local
    local.close()


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[None]:
    """A local Ray instance with 2 CPUs, started once for the tests that use Ray."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the slower Ray tests unless TOOLWEAVE_RAY_SLOW=1 (``make test-ray``)."""
    if os.environ.get("TOOLWEAVE_RAY_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="a slower Ray test: TOOLWEAVE_RAY_SLOW=1 runs it")
    for item in items:
        if "ray_slow" in item.keywords:
            item.add_marker(skip)
