"""Reading policy documents: YAML with line numbers, and the checks every key goes through
(private).

A policy is parsed with PyYAML's composer so that every key and value keeps the line it
came from; :class:`Problems` collects every mistake in a document (not just the first)
with its key path and line, and :class:`PolicyError` reports them all at once.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prodline.errors import InvalidValueError

KeyPath = tuple[str | int, ...]


def key_name(path: KeyPath) -> str:
    """``("rules", 1, "at_least")`` -> ``rules[1].at_least``; ``()`` -> ``(document)``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


@dataclass(frozen=True)
class PolicyProblem:
    """One mistake in a policy: the key it is at, its line (1-based), what is wrong."""

    key: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line is not None else ""
        return f"{where}key '{self.key}': {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "line": self.line, "message": self.message}


class PolicyError(InvalidValueError):
    """A governance policy is not valid. ``.problems`` lists every mistake with the key
    and line it is at; ``.source`` is the file (or ``"<dict>"``)."""

    def __init__(self, source: str, problems: list[PolicyProblem]) -> None:
        self.source = source
        self.problems = problems
        count = f"{len(problems)} problem{'s' * (len(problems) != 1)}"
        lines = [f"Policy {source} has {count}:"]
        lines += [f"  {p}" for p in problems]
        lines.append("The policy format is described in docs/governance.md.")
        super().__init__("\n".join(lines))


class Problems:
    """Collects problems with the line each key path came from."""

    def __init__(self, source: str, lines: Mapping[KeyPath, int] | None = None) -> None:
        self.source = source
        self.lines = dict(lines or {})
        self.items: list[PolicyProblem] = []

    def line(self, path: KeyPath) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def add(self, path: KeyPath, message: str) -> None:
        self.items.append(PolicyProblem(key_name(path), self.line(path), message))

    def raise_if_any(self) -> None:
        if self.items:
            ordered = sorted(self.items, key=lambda p: (p.line is None, p.line or 0))
            raise PolicyError(self.source, ordered)

    # typed readers: each returns the value, or None after recording a problem ---------
    def mapping(self, value: Any, path: KeyPath, hint: str = "") -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.add(path, f"must be a mapping{hint}, got {describe(value)}")
        return None

    def known_keys(
        self, value: Mapping[str, Any], path: KeyPath, allowed: Iterable[str], what: str
    ) -> None:
        allowed = list(allowed)
        for key in value:
            if key not in allowed:
                self.add(path + (key,), f"unknown {what} key {key!r}{suggest(key, allowed)}")

    def number(self, value: Any, path: KeyPath, *, minimum: float | None = None) -> float | None:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.add(path, f"must be a number, got {describe(value)}")
            return None
        if minimum is not None and value < minimum:
            self.add(path, f"must be at least {minimum:g}, got {value!r}")
            return None
        return float(value)

    def integer(self, value: Any, path: KeyPath, *, minimum: int = 0) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, f"must be a whole number, got {describe(value)}")
            return None
        if value < minimum:
            self.add(path, f"must be at least {minimum}, got {value}")
            return None
        return value

    def boolean(self, value: Any, path: KeyPath) -> bool | None:
        if not isinstance(value, bool):
            self.add(path, f"must be true or false, got {describe(value)}")
            return None
        return value

    def text(
        self, value: Any, path: KeyPath, *, pattern: re.Pattern[str] | None = None, hint: str = ""
    ) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.add(path, f"must be a non-empty string{hint}, got {describe(value)}")
            return None
        if pattern is not None and not pattern.match(value):
            self.add(path, f"{value!r} is not valid{hint}")
            return None
        return value

    def texts(
        self, value: Any, path: KeyPath, *, pattern: re.Pattern[str] | None = None, hint: str = ""
    ) -> list[str] | None:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.add(path, f"must be a list of strings{hint}, got {describe(value)}")
            return None
        out = [
            self.text(item, path + (i,), pattern=pattern, hint=hint) for i, item in enumerate(value)
        ]
        return None if any(item is None for item in out) else [str(item) for item in out]

    def choice(self, value: Any, path: KeyPath, options: Iterable[str]) -> str | None:
        options = list(options)
        if not isinstance(value, str) or value not in options:
            close = suggest(value, options, known=False) if isinstance(value, str) else ""
            self.add(path, f"must be one of {', '.join(options)}, got {describe(value)}{close}")
            return None
        return value

    def duration(self, value: Any, path: KeyPath) -> float | None:
        """A duration like ``30d``, ``12h``, ``90m``, ``45s``, ``2w``: seconds."""
        seconds = parse_duration(value)
        if seconds is None:
            self.add(path, f"must be a duration like 30d, 12h, 90m or 2w, got {describe(value)}")
        return seconds

    def size(self, value: Any, path: KeyPath) -> int | None:
        """A byte size: a whole number of bytes or text like ``50MB``, ``1.5 GiB``."""
        size = parse_size(value)
        if size is None:
            self.add(
                path, f"must be a size in bytes or like 50MB, 2 GiB or 500kB, got {describe(value)}"
            )
        return size


def describe(value: Any) -> str:
    """A short description of a YAML value for messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(value: str, options: Iterable[str], known: bool = True) -> str:
    """`` (did you mean 'x'?)``, else `` (known: a, b)`` (or nothing with known=False)."""
    options = list(options)
    close = difflib.get_close_matches(str(value), options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(options)})" if known else ""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> float | None:
    """Seconds in ``30d``/``12h``/``90m``/``45s``/``2w``, or None when it is not one."""
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    if match is None:
        return None
    return float(match.group(1)) * _DURATION_SECONDS[match.group(2)]


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b)?\s*$", re.I)
_SIZE_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_size(value: Any) -> int | None:
    """Bytes in ``50MB``/``1.5 GiB``/``1200`` (decimal and binary units), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _SIZE.match(value)
    if match is None:
        return None
    unit = (match.group(2) or "b").lower()
    if unit not in _SIZE_UNITS:
        return None
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def load_yaml(text: str, source: str) -> tuple[Any, dict[KeyPath, int]]:
    """Parse YAML text; return the value and the line (1-based) of every key path.

    Mapping keys are always read as text (so ``on:`` stays ``"on"``, not YAML 1.1's
    ``True``); duplicate keys are refused.
    """
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        if "cannot start any token" in message:
            message += " (quote values that start with >, |, *, &, !, %, @ or `)"
        raise PolicyError(
            source, [PolicyProblem("(document)", line, f"is not valid YAML: {message}")]
        ) from None
    except yaml.YAMLError as exc:
        problem = PolicyProblem("(document)", None, f"is not valid YAML: {exc}")
        raise PolicyError(source, [problem]) from None
    lines: dict[KeyPath, int] = {}
    problems: list[PolicyProblem] = []
    constructor = yaml.SafeLoader("")

    def build(node: Any, path: KeyPath, depth: int) -> Any:
        lines.setdefault(path, node.start_mark.line + 1)
        if depth > 50:
            problems.append(PolicyProblem(key_name(path), lines[path], "is nested too deeply"))
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    line = key_node.start_mark.line + 1
                    problems.append(PolicyProblem(key_name(path), line, "keys must be plain text"))
                    continue
                key = str(key_node.value)
                child = path + (key,)
                if key in out:
                    problems.append(
                        PolicyProblem(
                            key_name(child),
                            key_node.start_mark.line + 1,
                            "is given twice; keep one",
                        )
                    )
                    continue
                lines[child] = key_node.start_mark.line + 1
                out[key] = build(value_node, child, depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return constructor.construct_object(node, deep=True)

    value = None if root is None else build(root, (), 0)
    if problems:
        raise PolicyError(source, problems)
    return value, lines
