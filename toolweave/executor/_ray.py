"""`RayExecutor`: tool calls as Ray tasks and actors, with the `LocalExecutor`'s contract.

Only where one attempt runs changes. Validation, approval of destructive tools, the
run's and each tool's concurrency limits, the per-attempt timeout, tenacity retries of
read-only or idempotent tools on transient errors, and `ToolError` wrapping are the
`LocalExecutor`'s own code, inherited; this module supplies the attempt: submit the
call to Ray, await its object ref, and stop it for real when the attempt times out or
the run is cancelled (`ray.cancel(force=True)` kills a task's worker; an actor whose
call cannot be interrupted is killed and started again on the next call).

Ray's failures are translated at the boundary: the exception a tool raised on a worker
is raised again in the driver (the remote traceback stays on ``__cause__``), so the
`ToolError` reads as the traceback's last line, as it would locally; a worker, actor or
node that died becomes `WorkerLost`, a `ConnectionError`, which the default
`is_transient` treats as worth a retry. Ray's own task retries are off: the executor's
policy alone decides, so a destructive call never runs twice.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import pickle
import weakref
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import ray
import ray.exceptions
import tenacity
from ray import cloudpickle

from toolweave.errors import ToolError
from toolweave.executor._local import Approver, LocalExecutor, is_transient
from toolweave.tools import Tool

__all__ = ["RayExecutor", "RayOptions", "WorkerLost"]


class WorkerLost(ConnectionError):
    """The Ray worker, actor or node running a call died before the call returned."""


@dataclass(frozen=True, slots=True)
class RayOptions:
    """Where and how one tool's calls run on Ray.

    Attributes:
        num_cpus: CPUs each call reserves (Ray's default for a task: 1; for an
            actor: none while it runs). A tool that mostly waits on I/O is better
            an async tool on an actor, whose calls wait side by side in one process.
        num_gpus: GPUs each call (or the tool's actor) reserves.
        memory: Bytes of memory reserved.
        resources: Custom resources needed, e.g. ``{"crawler": 1}`` for nodes
            started with ``ray start --resources '{"crawler": 4}'``.
        runtime_env: The Ray runtime environment of the worker (``pip``,
            ``env_vars``, ``working_dir``, ...).
        actor: Run the tool on one long-lived named actor (``toolweave.<tool>``), so
            that what its function loads or keeps (a model, a cache) stays between
            calls. Calls of a sync tool run one at a time (``max_concurrency`` of
            the tool raises that); a timed-out call of a sync tool kills the actor,
            and the next call starts a fresh one.
    """

    num_cpus: float | None = None
    num_gpus: float | None = None
    memory: int | None = None
    resources: Mapping[str, float] = field(default_factory=dict)
    runtime_env: Mapping[str, Any] | None = None
    actor: bool = False

    def ray_options(self) -> dict[str, Any]:
        """The options as Ray's ``.options(...)`` takes them (unset ones left out)."""
        options: dict[str, Any] = {
            key: value
            for key, value in (
                ("num_cpus", self.num_cpus),
                ("num_gpus", self.num_gpus),
                ("memory", self.memory),
                ("runtime_env", dict(self.runtime_env) if self.runtime_env else None),
            )
            if value is not None
        }
        if self.resources:
            options["resources"] = dict(self.resources)
        return options


class RayExecutor(LocalExecutor):
    """Run tool calls on Ray: as tasks, on named actors, or (some tools) locally.

    ``Agent(model, tools, executor=RayExecutor())`` is all it takes: the scheduler,
    the plan stream and the joiner stay in this process, each call runs on the
    cluster. Without an address, a local Ray instance with this machine's cores is
    started (and shut down by `close()` or at exit); ``address="auto"`` joins the
    cluster this machine belongs to, ``"ray://head:10001"`` a remote one. If Ray is
    already initialised, that instance is used as it is.

    Workers call the tools' functions, so the code defining them must be importable
    there (an installed package, or a ``runtime_env`` with a ``working_dir``);
    functions defined in ``__main__`` or inside functions travel by value.

    Args:
        address: The Ray cluster, or `None` to start a local instance.
        tools: Per tool name, its `RayOptions`.
        default: The options of tools not named in `tools`.
        local: Names of tools that run in this process, as `LocalExecutor` runs
            them (cheap ones, where a round trip to a worker costs more than the call).
        num_cpus: CPUs of a local instance started here (default: the machine's).
        init: More keyword arguments for ``ray.init`` when this executor starts Ray.
        max_concurrency: How many calls may run at once through this executor.
        default_timeout: Seconds per attempt for tools that set no timeout.
        approve: Asked before every call of a destructive tool; without it,
            destructive tools are refused.
        transient: Which exceptions are worth a retry (for retryable tools);
            `WorkerLost` is a `ConnectionError`, transient by default.
        retry_wait: The tenacity wait strategy between attempts.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        tools: Mapping[str, RayOptions] | None = None,
        default: RayOptions | None = None,
        local: Collection[str] = (),
        num_cpus: int | None = None,
        init: Mapping[str, Any] | None = None,
        max_concurrency: int | None = None,
        default_timeout: float | None = None,
        approve: Approver | None = None,
        transient: Callable[[BaseException], bool] = is_transient,
        retry_wait: tenacity.wait.wait_base | None = None,
    ) -> None:
        super().__init__(
            max_concurrency=max_concurrency,
            default_timeout=default_timeout,
            approve=approve,
            transient=transient,
            retry_wait=retry_wait,
        )
        self._options = dict(tools or {})
        self._default = default or RayOptions()
        self._local = frozenset(local)
        self._functions: weakref.WeakKeyDictionary[Tool, ray.ObjectRef[Any]] = (
            weakref.WeakKeyDictionary()
        )
        self._actors: dict[str, Any] = {}
        self._owns_ray = start_ray(address, num_cpus=num_cpus, **(init or {}))

    def options(self, tool: Tool) -> RayOptions | None:
        """Where `tool` runs: its `RayOptions`, or `None` for this process."""
        if tool.name in self._local:
            return None
        return self._options.get(tool.name, self._default)

    def close(self) -> None:
        """Kill the actors this executor started; shut Ray down if it started it."""
        super().close()
        if ray.is_initialized():
            for actor in self._actors.values():
                ray.kill(actor)
        self._actors.clear()
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()
        self._owns_ray = False

    # -- one attempt ----------------------------------------------------------------

    async def _attempt(self, tool: Tool, kwargs: dict[str, object]) -> object:
        options = self.options(tool)
        if options is None:
            return await super()._attempt(tool, kwargs)
        timeout = tool.timeout if tool.timeout is not None else self._default_timeout
        async with asyncio.timeout(timeout):
            return await self._remote(tool, kwargs, options)

    async def _remote(self, tool: Tool, kwargs: dict[str, object], options: RayOptions) -> object:
        actor = self._actor(tool, options) if options.actor else None
        ref = self._submit(tool, kwargs, options, actor)
        try:
            packed = await ref
        except asyncio.CancelledError:  # timed out, or the run was cancelled
            self._stop(tool, ref, actor)
            raise
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, Exception) and not isinstance(cause, ray.exceptions.RayError):
                raise cause from exc
            raise RemoteError(_last_line(exc.traceback_str or str(exc))) from exc
        except _LOST as exc:
            if actor is not None:
                self._actors.pop(tool.name, None)
            raise WorkerLost(f"{type(exc).__name__} while running {tool.name}") from exc
        return pickle.loads(packed)

    def _submit(
        self, tool: Tool, kwargs: dict[str, object], options: RayOptions, actor: Any
    ) -> ray.ObjectRef[bytes]:
        """Send the call to its actor, or as a task with the tool's resources."""
        try:
            if actor is not None:
                return actor.call.remote(kwargs)  # type: ignore[no-any-return]
            task = _call_task.options(**options.ray_options(), name=tool.name)
            return task.remote(self._function(tool), kwargs)
        except (TypeError, pickle.PicklingError) as exc:
            raise _unsendable(tool, kwargs, exc) from exc

    def _stop(self, tool: Tool, ref: ray.ObjectRef[Any], actor: Any) -> None:
        """Stop a call for real: kill a task's worker; cancel or kill an actor's call."""
        if actor is None:
            ray.cancel(ref, force=True)
        elif tool.is_async:
            ray.cancel(ref)  # an async actor cancels the call's asyncio task
        else:  # a sync actor's running call cannot be interrupted
            ray.kill(actor)
            self._actors.pop(tool.name, None)

    def _function(self, tool: Tool) -> ray.ObjectRef[Any]:
        """The tool's function in the object store, put there once."""
        ref = self._functions.get(tool)
        if ref is None:
            try:
                ref = self._functions[tool] = ray.put(tool.fn)
            except (TypeError, pickle.PicklingError) as exc:
                raise _unsendable_function(tool, exc) from exc
        return ref

    def _actor(self, tool: Tool, options: RayOptions) -> Any:
        actor = self._actors.get(tool.name)
        if actor is None:
            cls: Any = _AsyncToolActor if tool.is_async else _ToolActor
            concurrency = {} if tool.is_async else {"max_concurrency": tool.max_concurrency or 1}
            factory = cls.options(
                **options.ray_options(),
                **concurrency,
                name=f"toolweave.{tool.name}",
                get_if_exists=True,
                max_restarts=0,
                max_task_retries=0,
            )
            try:
                actor = factory.remote(tool.fn)
            except (TypeError, pickle.PicklingError) as exc:
                raise _unsendable_function(tool, exc) from exc
            self._actors[tool.name] = actor
        return actor


class RemoteError(Exception):
    """A tool failed on a worker with an exception that could not travel back.

    Its message is the last line of the remote traceback.
    """


def start_ray(address: str | None = None, *, num_cpus: int | None = None, **init: Any) -> bool:
    """Connect to Ray, or start a local instance; `True` if this call started it.

    Args:
        address: A cluster address (``"auto"``, ``"ray://host:10001"``), or `None`
            for a new local instance with `num_cpus` (default: the machine's cores).
        num_cpus: CPUs of a local instance.
        **init: More keyword arguments for ``ray.init``.
    """
    if ray.is_initialized():
        return False
    init.setdefault("log_to_driver", False)  # the library never prints
    if address is None:
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), **init)
    else:
        ray.init(address=address, **init)
    return True


_dumps: Callable[[object], bytes] = cloudpickle.dumps

_LOST = (
    ray.exceptions.WorkerCrashedError,
    ray.exceptions.RayActorError,
    ray.exceptions.NodeDiedError,
    ray.exceptions.ObjectLostError,
    ray.exceptions.LocalRayletDiedError,
    ray.exceptions.OutOfMemoryError,
)
"""Ray's errors for a call whose worker, actor or node went away."""


def _last_line(traceback: str) -> str:
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "the call failed on a Ray worker"


def _reason(exc: BaseException) -> str:
    """Why Ray could not serialise a value: the pickler's error, not Ray's long report."""
    cause = exc.__cause__
    return str(cause) if cause is not None else str(exc).splitlines()[0]


def _unsendable(tool: Tool, kwargs: Mapping[str, object], exc: Exception) -> ToolError:
    """A clear error for arguments that cannot be serialised to a worker."""
    for name, value in kwargs.items():
        try:
            _dumps(value)
        except Exception as reason:
            message = (
                f"argument {name!r} ({type(value).__name__}) cannot be sent to a Ray "
                f"worker: {reason}"
            )
            break
    else:
        message = f"the call cannot be sent to a Ray worker: {_reason(exc)}"
    return ToolError(tool.name, message, args=kwargs, kind="invalid_arguments")


def _unsendable_function(tool: Tool, exc: Exception) -> ToolError:
    return ToolError(
        tool.name,
        f"the tool's function cannot be sent to a Ray worker ({_reason(exc)}); "
        "define it at module level, or run the tool locally",
        kind="unavailable",
    )


# -- what runs on the workers ---------------------------------------------------------


def _run(fn: Callable[..., Any], kwargs: dict[str, Any]) -> bytes:
    """Call a tool's function in a worker; its value comes back pickled."""
    value = fn(**kwargs)
    if inspect.isawaitable(value):
        value = asyncio.run(_wait(value))
    return _pack(value)


async def _wait(awaitable: Any) -> Any:
    return await awaitable


def _pack(value: object) -> bytes:
    """Serialise a result here, where a failure can still say what it was."""
    try:
        return _dumps(value)
    except Exception as exc:
        raise TypeError(
            f"the result ({type(value).__name__}) cannot be sent back from the Ray worker: {exc}"
        ) from None


_call_task = ray.remote(max_retries=0)(_run)


@ray.remote(max_restarts=0)
class _ToolActor:
    """Holds a sync tool's function (and whatever it keeps) between calls."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn

    def call(self, kwargs: dict[str, Any]) -> bytes:
        return _run(self._fn, kwargs)


@ray.remote(max_restarts=0)
class _AsyncToolActor:
    """Holds an async tool's function between calls; its calls run concurrently."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn

    async def call(self, kwargs: dict[str, Any]) -> bytes:
        return _pack(await self._fn(**kwargs))
