"""`Tool`: a callable the planner may use, with its schema and behaviour flags.

`tool()`, which builds one from a typed Python function, is in `_decorator`.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic

from toolweave.errors import ToolError, UserError
from toolweave.tools._collect import collecting
from toolweave.tools._fields import annotation_text, declared_fields, fields_text, schema_fields
from toolweave.tools._param_names import plan_names, with_wire_names
from toolweave.tools._schema import (
    JsonSchema,
    lenient_types,
    strict_schema,
    takes_null,
    type_text,
)

__all__ = ["Isolation", "Tool", "ToolFunction"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_RESERVED = {"join"}
_MAX_ERRORS_SHOWN = 3

ToolFunction = Callable[..., Any]
"""A sync or async function that implements a tool."""

Isolation = Literal["thread", "process"]
"""Where a sync tool runs: a worker thread (the default) or a worker process."""


@dataclass(frozen=True, eq=False)
class Tool:
    """A tool the planner may call.

    Build one with `@tool` from a typed function, or with `Tool.from_schema` from an
    OpenAI-style function schema (with or without an implementation).

    Attributes:
        name: How plans call it: a Python identifier of at most 64 characters.
        description: What it does, for the planner and the retriever.
        fn: The implementation, sync or async; `None` for a description-only tool.
        read_only: Calling it changes nothing; safe to retry and to run in parallel.
        idempotent: Calling it twice with the same arguments has the effect of once;
            safe to retry.
        destructive: It changes the world in a way that needs approval; never retried.
        timeout: Seconds allowed for one attempt; `None` for no limit.
        retries: Extra attempts on transient errors (only for read-only or idempotent
            tools that are not destructive).
        max_concurrency: How many calls of this tool may run at once; `None` for any.
        isolation: Where a sync implementation runs: ``"thread"`` (a worker thread;
            a timed-out or cancelled call is abandoned but runs on to its end, since
            Python cannot stop a thread) or ``"process"`` (a worker process, killed
            on timeout or cancel; the function must be defined at module level, its
            arguments and result picklable).
        returns: What the tool returns, in words (from the docstring's Returns section).
        metadata: Free-form data about the tool (source, app, original id, ...).
        family: The provider, server, spec or toolkit the tool belongs to, if any; the
            retriever lets a family that serves a request lift its members.
    """

    name: str
    description: str = ""
    fn: ToolFunction | None = None
    read_only: bool = False
    idempotent: bool = False
    destructive: bool = False
    timeout: float | None = None
    retries: int = 0
    max_concurrency: int | None = None
    isolation: Isolation = "thread"
    returns: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    family: str | None = None
    _params: type[pydantic.BaseModel] | None = field(default=None, repr=False)
    _schema: JsonSchema | None = field(default=None, repr=False)
    _return_schema: JsonSchema | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name) or self.name in _RESERVED:
            raise UserError(
                f"tool name {self.name!r} must be a Python identifier of at most 64 "
                "characters, and not 'join'"
            )
        if self.retries < 0:
            raise UserError(f"tool {self.name}: retries must be >= 0")
        if self.timeout is not None and self.timeout <= 0:
            raise UserError(f"tool {self.name}: timeout must be positive")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise UserError(f"tool {self.name}: max_concurrency must be >= 1")
        if self.destructive and self.read_only:
            raise UserError(f"tool {self.name} cannot be both read_only and destructive")
        if self.isolation not in ("thread", "process"):
            raise UserError(f"tool {self.name}: isolation must be 'thread' or 'process'")
        if self.isolation == "process":
            if self.fn is None or self.is_async:
                raise UserError(
                    f"tool {self.name}: isolation='process' is for sync functions (an "
                    "async tool is stopped by cancelling it)"
                )
            qualname = getattr(self.fn, "__qualname__", "<unknown>")
            if "<" in qualname:  # workers import the function by its module and name
                raise UserError(
                    f"tool {self.name}: isolation='process' needs a function defined at "
                    f"module level, not {qualname}"
                )

    @classmethod
    def from_schema(
        cls,
        name: str,
        description: str,
        parameters: Mapping[str, Any] | None = None,
        fn: ToolFunction | None = None,
        *,
        returns: str | None = None,
        return_schema: Mapping[str, Any] | None = None,
        **flags: Any,
    ) -> Tool:
        """A tool described by a JSON schema of its parameters (OpenAI function format).

        Args:
            name: The tool's name.
            description: What it does.
            parameters: A JSON schema of type object; `None` for no parameters. A
                parameter whose name a plan cannot write (``user-name``, ``$top``)
                is offered as an identifier (``user_name``, ``top``).
            fn: The implementation, called with keyword arguments named as in
                `parameters` (a generator function's result is the list of its
                items); without it the tool
                is a description only (for indexing and simulation), and calling it
                fails with a clear `ToolError`.
            returns: What the tool returns, in words.
            return_schema: A JSON schema of the return value, if known.
            **flags: Behaviour flags: read_only, idempotent, destructive, timeout,
                retries, max_concurrency, metadata, family.
        """
        schema = dict(parameters or {"type": "object", "properties": {}})
        if schema.get("type", "object") != "object":
            raise UserError(f"tool {name}: the parameters schema must be of type object")
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        schema, wire = plan_names(schema)  # `user-name` reads `user_name` in plans
        return cls(
            name,
            description,
            None if fn is None else with_wire_names(collecting(fn), wire),
            returns=returns,
            _schema=schema,
            _return_schema=dict(return_schema) if return_schema else None,
            **flags,
        )

    # -- what the planner and the executor need -----------------------------------

    @functools.cached_property
    def is_async(self) -> bool:
        """Whether the implementation is a coroutine function."""
        return inspect.iscoroutinefunction(self.fn)

    @property
    def repeatable(self) -> bool:
        """Whether a repeated call has the effect of one (read-only or idempotent).

        Never for a destructive tool. Such a call may be retried, and its result
        reused within a run.
        """
        return (self.read_only or self.idempotent) and not self.destructive

    @property
    def retryable(self) -> bool:
        """Whether transient failures may be retried: `repeatable`, with retries set."""
        return self.retries > 0 and self.repeatable

    @functools.cached_property
    def parameters(self) -> JsonSchema:
        """The JSON schema of the parameters, as given or generated by pydantic."""
        if self._schema is not None:
            return self._schema
        assert self._params is not None
        try:
            return self._params.model_json_schema()
        except pydantic.PydanticUserError as exc:
            raise UserError(f"tool {self.name}: no JSON schema for its parameters: {exc}") from exc

    @functools.cached_property
    def parameter_names(self) -> tuple[str, ...]:
        """Parameter names in signature order (positional arguments bind in this order)."""
        if self._params is not None:
            return tuple(self._params.model_fields)
        return tuple(self.parameters.get("properties", {}))

    @functools.cached_property
    def required_names(self) -> frozenset[str]:
        """The names of the parameters without a default."""
        if self._params is not None:
            return frozenset(n for n, f in self._params.model_fields.items() if f.is_required())
        return frozenset(self.parameters.get("required", ()))

    @functools.cached_property
    def output_fields(self) -> dict[str, str]:
        """The fields of the tool's result, each with its type as planners read it.

        Where the tool declares them: a return schema of an object with properties,
        composed ones included (OpenAPI responses, MCP output schemas), or a return
        annotation that is a TypedDict, a pydantic model or a dataclass; empty
        otherwise. A plan may use one field of a result as ``$N.name``.
        """
        if self._return_schema is not None:
            return schema_fields(self._return_schema)
        if self.fn is None or self._params is None:
            return {}
        return declared_fields(self.fn)

    def json_schema(self) -> JsonSchema:
        """The parameters' JSON schema in OpenAI strict form when it can be, else as is."""
        return strict_schema(self.parameters) or self.parameters

    def to_openai(self) -> dict[str, Any]:
        """The tool as an OpenAI Chat Completions ``tools`` entry."""
        strict = strict_schema(self.parameters)
        function: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "parameters": strict or self.parameters,
        }
        if strict is not None:
            function["strict"] = True
        return {"type": "function", "function": function}

    def signature(self) -> str:
        """The call signature with types, as planners read it: ``f(a: str, b: int = 2) -> X``."""
        props: Mapping[str, Any] = self.parameters.get("properties", {})
        defs = self.parameters.get("$defs", {})
        parts = []
        for name in self.parameter_names:
            prop = props.get(name, {})
            text = f"{name}: {type_text(prop, defs)}"
            if name not in self.required_names:
                default = prop.get("default")
                text += f" = {default!r}" if "default" in prop else " = None"
            parts.append(text)
        result = f"{self.name}({', '.join(parts)})"
        if fields := self.output_fields:
            result += f" -> {fields_text(fields)}"
        elif self._return_schema is not None:
            result += f" -> {type_text(self._return_schema)}"
        elif self.fn is not None and self._params is not None:
            annotation = inspect.signature(self.fn).return_annotation
            if annotation is not inspect.Signature.empty:
                result += f" -> {annotation_text(annotation)}"
        return result

    # -- calling --------------------------------------------------------------------

    @functools.cached_property
    def _field_names(self) -> tuple[str, ...]:
        """The parameters' names (read once: pydantic's class attribute costs µs a call)."""
        return tuple(self._params.model_fields) if self._params is not None else ()

    def validate(self, args: Mapping[str, object]) -> dict[str, object]:
        """Check resolved arguments against the schema and return the call's kwargs.

        An optional argument given as ``None`` where its parameter takes no null is left
        out, as if not written: the signature shows such a parameter as ``= None``, and
        a model copies that (ShortcutsBench's plans wrote ``WFAskActionDefaultAnswer=None``
        and every call failed).

        Raises:
            ToolError: With kind ``invalid_arguments``, naming each bad argument and why.
        """
        if None in args.values():
            args = {k: v for k, v in args.items() if v is not None or k not in self._absent_if_none}
        if self._params is not None:
            try:
                model = self._params.model_validate(args)
            except pydantic.ValidationError as exc:
                raise self._invalid(args, _pydantic_problems(exc)) from exc
            return {name: getattr(model, name) for name in self._field_names}
        try:
            problems = _jsonschema_problems(self._validator, args)
        except Exception as exc:  # jsonschema raises on bad schemas only
            # a schema that refers to nowhere or to itself forever, or is no schema
            # ({"type": 7}): no call can be checked against it, so none runs
            raise ToolError(
                self.name,
                f"its parameter schema cannot check a call: {type(exc).__name__}: {str(exc)[:200]}",
                args=args,
                kind="unavailable",
            ) from exc
        if problems:
            raise self._invalid(args, problems)
        return dict(args)

    @functools.cached_property
    def _absent_if_none(self) -> frozenset[str]:
        """The optional parameters whose schema takes no null: ``None`` there means unset."""
        props: Mapping[str, Any] = self.parameters.get("properties", {})
        return frozenset(
            name
            for name in self.parameter_names
            if name not in self.required_names and not takes_null(props.get(name, {}))
        )

    @functools.cached_property
    def _validator(self) -> Any:
        import jsonschema  # only description-backed tools need it

        schema = lenient_types(self.parameters)  # "String" in a published spec: "string"
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        return cls(schema)

    def _invalid(self, args: Mapping[str, object], problems: list[str]) -> ToolError:
        shown = "; ".join(problems[:_MAX_ERRORS_SHOWN])
        if len(problems) > _MAX_ERRORS_SHOWN:
            shown += f" (and {len(problems) - _MAX_ERRORS_SHOWN} more)"
        return ToolError(
            self.name, f"invalid arguments: {shown}", args=args, kind="invalid_arguments"
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the implementation directly, as the decorated function would be."""
        if self.fn is None:
            raise ToolError(self.name, "this tool has no implementation", kind="unavailable")
        return self.fn(*args, **kwargs)


def _pydantic_problems(exc: pydantic.ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"]) or "arguments"
        if err["type"] == "extra_forbidden":
            problems.append(f"unexpected argument {where!r}")
        elif err["type"] == "missing":
            problems.append(f"missing argument {where!r}")
        else:
            problems.append(f"argument {where!r}: {err['msg']}")
    return problems


def _jsonschema_problems(validator: Any, args: Mapping[str, object]) -> list[str]:
    problems = []
    for err in sorted(validator.iter_errors(dict(args)), key=lambda e: list(e.path)):
        where = ".".join(str(part) for part in err.path)
        problems.append(f"argument {where!r}: {err.message}" if where else err.message)
    return problems
