"""The run search language: parse a filter string into SQL over the store's tables.

    metrics.f1 > 0.9 and params.max_depth = '6' and tags.team LIKE 'risk%'
    (status = 'finished' or status = 'failed') and name != 'baseline'
    metrics.`val loss` <= 0.2

Identifiers are ``metrics.KEY``, ``params.KEY``, ``tags.KEY`` (backquote or double-quote
keys with spaces) and the run attributes ``run_id``, ``name``, ``status``,
``experiment``, ``start_time``, ``end_time``, ``reproduced_from`` (optionally as
``attributes.NAME``).
Operators: ``= != < <= > >= LIKE ILIKE NOT LIKE IN (...)``, joined by ``and``/``or`` with
parentheses. Metrics compare numbers; params and tags are text and support equality,
``LIKE`` and ``IN``. A missing metric, param or tag never matches (nor does NaN).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select

from prodline.errors import FilterSyntaxError
from prodline.store import tables as t

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)|
        (?P<op>==|!=|<>|<=|>=|=|<|>)|
        (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))|
        (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")|
        (?P<ident>[A-Za-z_][\w]*(?:\.(?:`[^`]+`|"[^"]+"|[\w\-/:.]+))?)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "like", "ilike", "not", "in"}
ATTRIBUTES = {
    "run_id": t.runs.c.id,
    "id": t.runs.c.id,
    "name": t.runs.c.name,
    "run_name": t.runs.c.name,
    "status": t.runs.c.status,
    "start_time": t.runs.c.start_time,
    "end_time": t.runs.c.end_time,
    "experiment": t.experiments.c.name,
    "reproduced_from": t.runs.c.reproduced_from,
}
_NUMERIC_OPS = {"=", "!=", "<", "<=", ">", ">="}
_TEXT_OPS = {"=", "!=", "like", "ilike", "not like", "in"}


@dataclass(frozen=True)
class Field:
    """A filter or order-by target: ``kind`` is metric, param, tag or attribute."""

    kind: str
    key: str


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


def parse_field(text: str) -> Field:
    """Parse ``metrics.f1``, ``params.C``, ``tags.x``, ``status`` into a Field."""
    head, dot, rest = text.partition(".")
    kinds = {
        "metrics": "metric", "metric": "metric", "params": "param", "param": "param",
        "tags": "tag", "tag": "tag", "attributes": "attribute", "attribute": "attribute",
        "attr": "attribute",
    }  # fmt: skip
    if dot and head.lower() in kinds:
        key = rest[1:-1] if rest[:1] in '`"' and rest[-1:] == rest[:1] else rest
        kind = kinds[head.lower()]
    else:
        kind, key = "attribute", text
    if kind == "attribute" and key not in ATTRIBUTES:
        raise FilterSyntaxError(
            f"Unknown run attribute {key!r}. Use one of {', '.join(sorted(ATTRIBUTES))}, "
            "or metrics.KEY, params.KEY, tags.KEY."
        )
    if not key:
        raise FilterSyntaxError(f"Missing key after {head!r}. in {text!r}.")
    return Field(kind, key)


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        match = _TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            snippet = source[pos : pos + 20].strip()
            raise FilterSyntaxError(
                f"Cannot read the filter at character {pos + 1}: {snippet!r}. Write comparisons "
                "like metrics.f1 > 0.9 or params.C = '1.0', quoting text in single quotes."
            )
        kind = match.lastgroup or ""
        text, start = match.group(kind), match.start(kind)
        if kind == "ident" and text.lower() in _KEYWORDS:
            kind = text.lower()
        tokens.append(_Token(kind, text, start))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, source: str, metric_columns: Mapping[str, Any] | None = None) -> None:
        self.source = source
        self.metric_columns = metric_columns or {}
        self.tokens = _tokenize(source)
        self.index = 0
        self.metric_keys: set[str] = set()  # metrics compared anywhere in the filter

    def parse(self) -> ColumnElement[bool]:
        if not self.tokens:
            raise FilterSyntaxError("The filter is empty.")
        clause = self._or()
        if self.index < len(self.tokens):
            token = self.tokens[self.index]
            raise FilterSyntaxError(
                f"Unexpected {token.text!r} at character {token.pos + 1} of the filter "
                "(join conditions with 'and' / 'or')."
            )
        return clause

    def _peek(self, *kinds: str) -> _Token | None:
        if self.index < len(self.tokens) and self.tokens[self.index].kind in kinds:
            return self.tokens[self.index]
        return None

    def _take(self, *kinds: str, expected: str) -> _Token:
        token = self._peek(*kinds)
        if token is None:
            where = (
                f"at character {self.tokens[self.index].pos + 1} ({self.tokens[self.index].text!r})"
                if self.index < len(self.tokens)
                else "at the end"
            )
            raise FilterSyntaxError(f"Expected {expected} {where} of the filter {self.source!r}.")
        self.index += 1
        return token

    def _or(self) -> ColumnElement[bool]:
        parts = [self._and()]
        while self._peek("or"):
            self.index += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else or_(*parts)

    def _and(self) -> ColumnElement[bool]:
        parts = [self._atom()]
        while self._peek("and"):
            self.index += 1
            parts.append(self._atom())
        return parts[0] if len(parts) == 1 else and_(*parts)

    def _atom(self) -> ColumnElement[bool]:
        if self._peek("lparen"):
            self.index += 1
            inner = self._or()
            self._take("rparen", expected="')'")
            return inner
        field = parse_field(self._take("ident", expected="a field such as metrics.f1").text)
        if field.kind == "metric":
            self.metric_keys.add(field.key)
        op = self._operator()
        if op == "in":
            self._take("lparen", expected="'(' after IN")
            values = [self._value()]
            while self._peek("comma"):
                self.index += 1
                values.append(self._value())
            self._take("rparen", expected="')' closing the IN list")
            return condition(field, op, values, self.metric_columns.get(field.key))
        return condition(field, op, self._value(), self.metric_columns.get(field.key))

    def _operator(self) -> str:
        token = self._take("op", "like", "ilike", "not", "in", expected="a comparison operator")
        if token.kind == "op":
            return {"==": "=", "<>": "!="}.get(token.text, token.text)
        if token.kind == "not":
            self._take("like", expected="LIKE after NOT")
            return "not like"
        return token.kind

    def _value(self) -> Any:
        token = self._take("number", "string", expected="a number or a 'quoted' string")
        if token.kind == "number":
            return float(token.text)
        body = token.text[1:-1]
        return body.replace("''", "'").replace("\\'", "'").replace('\\"', '"')


def parse_filter(
    source: str, metric_columns: Mapping[str, Any] | None = None
) -> ColumnElement[bool]:
    """Translate a filter string into a SQL condition over ``runs`` (joined to experiments).

    ``metric_columns`` maps metric keys the query already joins (by run and key, as for
    ordering) to their value column: comparisons on those use it instead of a subquery.
    """
    return _Parser(source, metric_columns).parse()


def required_metrics(source: str) -> set[str]:
    """Metrics every matching run must have: those compared in a filter without ``or``
    (a comparison never matches a missing metric)."""
    parser = _Parser(source)
    parser.parse()
    return set() if any(t.kind == "or" for t in parser.tokens) else parser.metric_keys


def condition(field: Field, op: str, value: Any, joined_metric: Any = None) -> ColumnElement[bool]:
    """One comparison as SQL. ``joined_metric``: the value column of this metric when the
    query already joins it (a missing metric is NULL there and never matches, as here)."""
    if field.kind == "metric":
        if op not in _NUMERIC_OPS or not isinstance(value, float):
            raise FilterSyntaxError(
                f"metrics.{field.key} compares with numbers using = != < <= > >=, "
                f"not {op.upper()} {value!r}."
            )
        if joined_metric is not None:
            return _compare(joined_metric, op, value)
        lm = t.latest_metrics
        return t.runs.c.id.in_(
            select(lm.c.run_id).where(lm.c.key == field.key, _compare(lm.c.value, op, value))
        )
    if field.kind in ("param", "tag"):
        table = t.params if field.kind == "param" else t.tags
        values = value if isinstance(value, list) else [value]
        if op not in _TEXT_OPS or any(not isinstance(v, str) for v in values):
            raise FilterSyntaxError(
                f"{field.kind}s.{field.key} is text: compare with a 'quoted' string using "
                f"= != LIKE ILIKE IN, e.g. {field.kind}s.{field.key} = '6'."
            )
        return t.runs.c.id.in_(
            select(table.c.run_id).where(
                table.c.key == field.key, _compare(table.c.value, op, value)
            )
        )
    column = ATTRIBUTES[field.key]
    if field.key in ("start_time", "end_time"):
        value = _as_time(value, field.key)
    elif isinstance(value, float) or (
        isinstance(value, list) and any(isinstance(v, float) for v in value)
    ):
        raise FilterSyntaxError(f"{field.key} is text: quote the value, e.g. {field.key} = 'x'.")
    return _compare(column, op, value)


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "like":
        return column.like(value)
    if op == "ilike":
        return column.ilike(value)
    if op == "not like":
        return column.not_like(value)
    if op == "in":
        return column.in_(value) if value else false()
    raise FilterSyntaxError(f"Unsupported operator {op!r}.")  # pragma: no cover


def _as_time(value: Any, name: str) -> datetime:
    if isinstance(value, float):
        return datetime.fromtimestamp(value / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise FilterSyntaxError(
            f"{name} compares with an ISO date such as '2026-11-01' or '2026-11-01T12:00:00Z', "
            f"got {value!r}."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
