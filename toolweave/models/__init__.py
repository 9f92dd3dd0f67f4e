"""Models: the `Model` protocol and its implementations, and model strings.

- `OpenAIModel`: any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server).
- `LocalModel`: the embedded default, in-process on the CPU, offline.
- `RecordingModel` (made by `recording`) and `ReplayModel`: record a model's calls, and
  replay them at an endpoint's pace.
- `toolweave.models.testing`: `ScriptedModel` and `FunctionModel` for tests.

Model strings: ``"local"``, ``"local:/path/to/model.gguf"``, ``"openai:<model>"``,
``"openai:<model>@<base_url>"`` (e.g. ``openai:qwen@http://127.0.0.1:8000/v1``).

Layer: imports `redaction` and `errors` only: plans, tools and runs are above it.
"""

from __future__ import annotations

from toolweave.errors import UserError
from toolweave.models._base import (
    Message,
    Model,
    ModelSettings,
    ModelStream,
    ToolCallingModel,
    ToolCallRequest,
    ToolTurn,
    Usage,
)
from toolweave.models._local import LocalModel
from toolweave.models._openai import OpenAIModel
from toolweave.models._record import (
    RecordedCall,
    RecordingModel,
    ReplayModel,
    read_record,
    recording,
)

__all__ = [
    "LocalModel",
    "Message",
    "Model",
    "ModelSettings",
    "ModelStream",
    "OpenAIModel",
    "RecordedCall",
    "RecordingModel",
    "ReplayModel",
    "ToolCallRequest",
    "ToolCallingModel",
    "ToolTurn",
    "Usage",
    "read_record",
    "recording",
    "resolve_model",
]


def resolve_model(model: Model | str) -> Model:
    """Turn a model string into a `Model`; a `Model` is returned as is.

    Raises:
        UserError: The string names no known kind of model.
    """
    if not isinstance(model, str):
        return model
    kind, _, rest = model.partition(":")
    if kind == "local":
        return LocalModel(rest or None)
    if kind == "openai" and rest:
        name, _, base_url = rest.partition("@")
        return OpenAIModel(name, base_url=base_url or None)
    raise UserError(
        f"unknown model {model!r}: use 'local', 'local:<path.gguf>', 'openai:<model>' "
        "or 'openai:<model>@<base_url>'"
    )
