"""The DAG a ``@pipeline`` function builds: nodes, the arguments that link them, handles.

Calling a step inside a pipeline function records a :class:`Node` and returns a
:class:`StepOutput` placeholder instead of running anything. Passing a placeholder to
another step makes an edge. Arguments that are not placeholders are constants: they
are part of the node's input fingerprint like any upstream output.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prodline.errors import PipelineError

if TYPE_CHECKING:
    from prodline.pipelines.step import Step

_builder: contextvars.ContextVar[GraphBuilder | None] = contextvars.ContextVar(
    "prodline_pipeline_builder", default=None
)


# --------------------------------------------------------------------- arguments
@dataclass(frozen=True)
class Ref:
    """An argument taken from a node's output (``index`` picks one item of a tuple)."""

    node: str
    index: int | None = None


@dataclass(frozen=True)
class Const:
    """An argument given as a plain value."""

    value: Any


@dataclass(frozen=True)
class Container:
    """A list, tuple or dict argument holding at least one placeholder."""

    kind: str  # "list" | "tuple" | "dict"
    items: tuple[tuple[Any, Any], ...]  # (index or key, spec)


ArgSpec = Ref | Const | Container


def to_spec(value: Any) -> ArgSpec:
    """An argument as a spec: placeholders become refs, containers holding placeholders
    are walked, everything else is a constant."""
    if isinstance(value, StepOutput):
        return Ref(value.node, value.index)
    if isinstance(value, list | tuple | dict) and _holds_placeholder(value):
        if isinstance(value, dict):
            return Container("dict", tuple((k, to_spec(v)) for k, v in value.items()))
        kind = "tuple" if isinstance(value, tuple) else "list"
        return Container(kind, tuple((i, to_spec(v)) for i, v in enumerate(value)))
    return Const(value)


def _holds_placeholder(value: Any) -> bool:
    if isinstance(value, StepOutput):
        return True
    if isinstance(value, dict):
        return any(_holds_placeholder(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_placeholder(v) for v in value)
    return False


def refs_in(spec: ArgSpec) -> Iterator[Ref]:
    """Every ref in a spec, depth first."""
    if isinstance(spec, Ref):
        yield spec
    elif isinstance(spec, Container):
        for _, item in spec.items:
            yield from refs_in(item)


def map_spec(spec: ArgSpec, leaf: Any) -> Any:
    """Rebuild a spec's value with ``leaf(spec)`` for each ref and constant."""
    if isinstance(spec, Container):
        if spec.kind == "dict":
            return {key: map_spec(item, leaf) for key, item in spec.items}
        values = [map_spec(item, leaf) for _, item in spec.items]
        return tuple(values) if spec.kind == "tuple" else values
    return leaf(spec)


# ---------------------------------------------------------------------------- nodes
@dataclass
class Node:
    """One call of a step in a pipeline."""

    id: str
    step: Step
    args: tuple[ArgSpec, ...]
    kwargs: dict[str, ArgSpec]
    depends_on: tuple[str, ...]

    def specs(self) -> Iterator[ArgSpec]:
        yield from self.args
        yield from self.kwargs.values()

    def constants(self) -> dict[str, Any]:
        """Scalar constants by parameter name (recorded as the step run's params)."""
        import inspect

        try:
            bound = inspect.signature(self.step.fn).bind_partial(*self.args, **self.kwargs)
        except TypeError:
            return {}
        out: dict[str, Any] = {}
        for name, spec in bound.arguments.items():
            if isinstance(spec, Const) and (
                spec.value is None
                or isinstance(spec.value, bool | int | float)
                or (isinstance(spec.value, str) and len(spec.value) <= 500)
            ):
                out[name] = spec.value
        return out

    def describe(self) -> dict[str, Any]:
        """A JSON-safe description for ``prodline pipelines show``."""
        return {
            "id": self.id,
            "step": self.step.name,
            "depends_on": list(self.depends_on),
            "constants": {k: v for k, v in self.constants().items()},
            "cache": self.step.cache,
            "allow_pickle": self.step.allow_pickle,
            "files": list(self.step.files),
            "outputs": self.step.n_outputs,
            "code_fingerprint": self.step.code_fingerprint,
        }


@dataclass
class Graph:
    """The nodes of a pipeline in the order they were called (a topological order)."""

    pipeline: str
    nodes: dict[str, Node] = field(default_factory=dict)
    result: Any = None

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def dependents(self, node_id: str) -> set[str]:
        """Every node downstream of ``node_id`` (transitively)."""
        found: set[str] = set()
        frontier = [node_id]
        while frontier:
            current = frontier.pop()
            for node in self.nodes.values():
                if current in node.depends_on and node.id not in found:
                    found.add(node.id)
                    frontier.append(node.id)
        return found

    def levels(self) -> list[list[str]]:
        """Nodes grouped by depth: each group can run in parallel once the previous one
        has finished."""
        depth: dict[str, int] = {}
        for node in self.nodes.values():
            depth[node.id] = 1 + max((depth[d] for d in node.depends_on), default=-1)
        groups: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for node_id, level in depth.items():
            groups[level].append(node_id)
        return groups

    def describe(self) -> dict[str, Any]:
        return {
            "nodes": [node.describe() for node in self.nodes.values()],
            "edges": [[dep, node.id] for node in self.nodes.values() for dep in node.depends_on],
            "levels": self.levels(),
        }


class GraphBuilder:
    """Collects nodes while a pipeline function runs."""

    def __init__(self, pipeline: str) -> None:
        self.graph = Graph(pipeline)
        self._counts: dict[str, int] = {}

    def __enter__(self) -> GraphBuilder:
        if _builder.get() is not None:
            raise PipelineError(
                "A pipeline function called another pipeline; call its steps directly instead."
            )
        self._token = _builder.set(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _builder.reset(self._token)

    def add(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepOutput:
        import inspect

        try:
            inspect.signature(step.fn).bind(*args, **kwargs)
        except TypeError as exc:
            raise PipelineError(
                f"In pipeline {self.graph.pipeline!r}, step {step.name!r} was called with "
                f"arguments that do not fit its signature: {exc}."
            ) from None
        count = self._counts.get(step.name, 0) + 1
        self._counts[step.name] = count
        node_id = step.name if count == 1 else f"{step.name}-{count}"
        arg_specs = tuple(to_spec(a) for a in args)
        kwarg_specs = {k: to_spec(v) for k, v in kwargs.items()}
        depends: list[str] = []
        for spec in (*arg_specs, *kwarg_specs.values()):
            for ref in refs_in(spec):
                if ref.node not in self.graph.nodes:
                    raise PipelineError(
                        f"Step {step.name!r} got the output of {ref.node!r}, which belongs to "
                        "another pipeline build; pass outputs only within one pipeline."
                    )
                if ref.node not in depends:
                    depends.append(ref.node)
        self.graph.nodes[node_id] = Node(node_id, step, arg_specs, kwarg_specs, tuple(depends))
        return StepOutput(node_id, None, step.n_outputs)


def current_builder() -> GraphBuilder | None:
    """The builder of the pipeline function running now, if any."""
    return _builder.get()


# -------------------------------------------------------------------------- handles
class StepOutput:
    """What a step call returns inside a pipeline: a placeholder for its output.

    Pass it to other steps. ``a, b = split(df)`` works when the step declares two
    outputs (``-> tuple[pd.DataFrame, pd.DataFrame]`` or ``@step(outputs=2)``), and
    ``out[0]`` picks one item of a tuple output.
    """

    __slots__ = ("node", "index", "n_outputs")

    def __init__(self, node: str, index: int | None, n_outputs: int | None) -> None:
        self.node = node
        self.index = index
        self.n_outputs = n_outputs

    def __repr__(self) -> str:
        suffix = "" if self.index is None else f"[{self.index}]"
        return f"<output of step {self.node!r}{suffix}>"

    def __getitem__(self, index: Any) -> StepOutput:
        if self.index is not None or not isinstance(index, int) or isinstance(index, bool):
            raise self._misuse(f"indexing it with {index!r}")
        if self.n_outputs is not None and not -self.n_outputs <= index < self.n_outputs:
            raise PipelineError(
                f"Step {self.node!r} declares {self.n_outputs} outputs; index {index} is out "
                "of range."
            )
        if index < 0 and self.n_outputs is not None:
            index += self.n_outputs
        return StepOutput(self.node, index, None)

    def __iter__(self) -> Iterator[StepOutput]:
        if self.index is not None or self.n_outputs is None:
            raise PipelineError(
                f"Cannot unpack the output of step {self.node!r}: it does not declare how "
                "many outputs it returns. Annotate it `-> tuple[A, B]` or use "
                "@step(outputs=2)."
            )
        return iter([StepOutput(self.node, i, None) for i in range(self.n_outputs)])

    def __bool__(self) -> bool:
        raise self._misuse("testing its truth value")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise self._misuse(f"reading its attribute {name!r}")

    def _misuse(self, what: str) -> PipelineError:
        return PipelineError(
            f"Inside a @pipeline function, the output of step {self.node!r} is a placeholder "
            f"(the step has not run yet), so {what} is not possible. Do that work inside a "
            "step and pass the placeholder to it."
        )
