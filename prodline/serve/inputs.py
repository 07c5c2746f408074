"""Request bodies to rows: MLflow's scoring JSON, CSV and the Open Inference Protocol v2.

Every parser turns bytes into :class:`Rows` without pandas: one row as a dict (the
common case), several rows as a dict of column lists, or rows of values by position
(bound to a model's input columns later, by :meth:`Rows.named`). A body that is not
what its format promises raises :class:`RequestError` with status 400; the contract
check (status 422) happens afterwards, against the model that answers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import orjson

MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
V2_DATATYPES = frozenset(
    {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
     "FP16", "FP32", "FP64", "BYTES"}
)  # fmt: skip
JSON_TYPES = ("application/json", "")
_STR = {str}
_FORMAT_KEYS = frozenset(MLFLOW_FORMATS)
_SPLIT_KEYS = frozenset({"columns", "data", "index"})
CSV_TYPES = ("text/csv", "application/csv")


class RequestError(Exception):
    """A request the server refuses before any model sees it: ``status`` (400, 401,
    404, 409, 413, 415, 422), a stable ``code`` and a message that says how to fix it."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def bad_request(message: str) -> RequestError:
    return RequestError(400, "MALFORMED_REQUEST", message)


class Rows:
    """Input rows of one request, in one of three shapes:

    - ``row``: a single row, ``{column: value}`` (``n == 1``);
    - ``columns``: ``{column: [value, ...]}``, every list ``n`` long;
    - ``positional``: ``[[value, ...], ...]``, values in the model's input column order.

    ``text`` marks values read from CSV (strings, converted per column kind later).
    """

    __slots__ = ("n", "row", "columns", "positional", "text", "values")

    def __init__(
        self,
        n: int,
        *,
        row: dict[str, Any] | None = None,
        columns: dict[str, list[Any]] | None = None,
        positional: list[list[Any]] | None = None,
        text: bool = False,
    ) -> None:
        self.n = n
        self.row = row
        self.columns = columns
        self.positional = positional
        self.text = text
        self.values: list[Any] | None = None  # set by a model's check: its inputs in order

    @classmethod
    def from_records(cls, records: list[Any], what: str) -> Rows:
        if not records:
            raise bad_request(f"{what} holds no rows; send at least one.")
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise bad_request(
                    f"{what}[{i}] is a {_json_type(record)}; every row must be an object "
                    '{"column": value, ...}.'
                )
        if len(records) == 1:
            return cls(1, row=records[0])
        names: dict[str, None] = {}
        for record in records:
            for key in record:
                names.setdefault(key)
        return cls(len(records), columns={k: [r.get(k) for r in records] for k in names})

    @classmethod
    def from_columns(cls, columns: dict[str, Any], what: str) -> Rows:
        if not columns:
            raise bad_request(f"{what} holds no columns.")
        lengths = set()
        scalar = True
        for values in columns.values():
            if isinstance(values, list):
                scalar = False
                lengths.add(len(values))
        if scalar:  # {column: value}: one row
            return cls(1, row=columns)
        if len(lengths) != 1 or any(not isinstance(v, list) for v in columns.values()):
            sizes = {k: len(v) if isinstance(v, list) else "scalar" for k, v in columns.items()}
            raise bad_request(
                f"{what} columns must all be lists of the same length (one value per row); "
                f"got {_short(sizes)}."
            )
        n = lengths.pop()
        if n == 0:
            raise bad_request(f"{what} holds no rows; send at least one.")
        if n == 1:
            return cls(1, row={k: v[0] for k, v in columns.items()})
        return cls(n, columns=columns)

    @classmethod
    def from_positional(cls, data: list[Any], what: str) -> Rows:
        if not data:
            raise bad_request(f"{what} holds no rows; send at least one.")
        for i, values in enumerate(data):
            if not isinstance(values, list):
                raise bad_request(
                    f"{what}[{i}] is a {_json_type(values)}; every row must be a list of "
                    "values in the model's input column order."
                )
        return cls(len(data), positional=data)

    # -------------------------------------------------------------------------- access

    def named(self, names: Sequence[str]) -> Rows:
        """These rows with column names: positional rows take ``names`` in order. Rows of
        the wrong length raise a 422 :class:`RequestError` listing them."""
        data = self.positional
        if data is None:
            return self
        width = len(names)
        wrong = [i for i, values in enumerate(data) if len(values) != width]
        if wrong:
            raise RequestError(
                422,
                "CONTRACT_VIOLATION",
                f"{len(wrong)} row(s) do not hold {width} values (the model's input columns, "
                f"in order: {', '.join(names[:5])}{', ...' if width > 5 else ''}); rows "
                f"{', '.join(map(str, wrong[:20]))}{', ...' if len(wrong) > 20 else ''}.",
                violations=[
                    {
                        "column": "*",
                        "problem": "wrong_row_length",
                        "count": len(wrong),
                        "examples": sorted({len(data[i]) for i in wrong})[:5],
                        "rows": wrong[:20],
                        "expected": f"{width} values in input column order",
                    }
                ],
            )
        if self.n == 1:
            return Rows(1, row=dict(zip(names, data[0], strict=True)), text=self.text)
        return Rows(
            self.n,
            columns={name: [values[j] for values in data] for j, name in enumerate(names)},
            text=self.text,
        )

    def first(self, field: str) -> Any:
        """The value of ``field`` in the first row (``None`` when absent or positional)."""
        if self.row is not None:
            return self.row.get(field)
        if self.columns is not None:
            values = self.columns.get(field)
            return values[0] if values else None
        return None

    def as_columns(self, names: Sequence[str]) -> dict[str, list[Any]]:
        """``{column: [values]}`` for ``names`` (already-validated, named rows)."""
        if self.row is not None:
            return {name: [self.row[name]] for name in names}
        assert self.columns is not None
        return {name: self.columns[name] for name in names}

    def records(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """One ``{column: value}`` dict per row, for ``names`` (absent values as None)."""
        if self.row is not None:
            row = self.row
            return [{name: row.get(name) for name in names}]
        columns = self.columns or {}
        present = [(name, columns.get(name)) for name in names]
        return [
            {name: (values[i] if values is not None else None) for name, values in present}
            for i in range(self.n)
        ]


# ------------------------------------------------------------------------------ JSON


def load_json(body: bytes) -> Any:
    """Parse a JSON body (orjson) or raise a 400."""
    if not body:
        raise bad_request("the request body is empty; send a JSON object.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the body is not valid JSON: {exc}") from None


def parse_mlflow(payload: Any) -> Rows:
    """MLflow's scoring formats: ``dataframe_split``, ``dataframe_records``,
    ``instances`` or ``inputs`` (exactly one of them)."""
    if not isinstance(payload, dict):
        raise bad_request(
            f"the body is a JSON {_json_type(payload)}; send an object with one of the keys "
            f"{', '.join(MLFLOW_FORMATS)} (MLflow's scoring formats)."
        )
    if len(payload) != 1 or not payload.keys() <= _FORMAT_KEYS:
        if "params" in payload:
            raise bad_request(
                "'params' are not supported: prodline models take no inference params."
            )
        found = ", ".join(map(repr, list(payload)[:6])) or "none"
        raise bad_request(
            f"send exactly one of the keys {', '.join(MLFLOW_FORMATS)}; found {found}. "
            'Example: {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}.'
        )
    key, value = next(iter(payload.items()))
    if key == "dataframe_split":
        return _dataframe_split(value)
    if key == "dataframe_records":
        if not isinstance(value, list):
            raise bad_request(
                f"dataframe_records must be a list of row objects, not a {_json_type(value)}."
            )
        return Rows.from_records(value, "dataframe_records")
    if key == "instances":
        return _rows_of(value, "instances")
    if isinstance(value, dict):  # inputs: {column: [values]} or {column: value}
        return Rows.from_columns(value, "inputs")
    return _rows_of(value, "inputs")


def _dataframe_split(value: Any) -> Rows:
    if not isinstance(value, dict):
        raise bad_request(
            "dataframe_split must be an object "
            f'{{"columns": [...], "data": [[...], ...]}}, not a {_json_type(value)}.'
        )
    if not value.keys() <= _SPLIT_KEYS:
        unknown = [k for k in value if k not in _SPLIT_KEYS]
        raise bad_request(
            f"dataframe_split has unknown key(s) {', '.join(map(repr, unknown[:5]))}; "
            "it takes columns, data and (ignored) index."
        )
    data = value.get("data")
    if not isinstance(data, list):
        raise bad_request(
            f'dataframe_split needs "data": a list of rows (lists of values), not '
            f"{_json_type(data) if 'data' in value else 'nothing'}."
        )
    columns = value.get("columns")
    if columns is None:
        return Rows.from_positional(data, "dataframe_split.data")
    if type(columns) is list and len(data) == 1:  # the common case, with the fewest checks
        values = data[0]
        if type(values) is list and len(values) == len(columns):
            try:
                row = dict(zip(columns, values, strict=True))
            except TypeError:  # an unhashable column name
                row = {}
            if len(row) == len(columns) and set(map(type, row)) == _STR:
                return Rows(1, row=row)
    if not isinstance(columns, list) or len(columns) != len(_names(columns)):
        raise bad_request(
            'dataframe_split "columns" must be a list of distinct column names (strings).'
        )
    width = len(columns)
    if not data:
        raise bad_request("dataframe_split.data holds no rows; send at least one.")
    for i, values in enumerate(data):
        if not isinstance(values, list) or len(values) != width:
            got = f"{len(values)} values" if isinstance(values, list) else _json_type(values)
            raise bad_request(
                f"dataframe_split.data[{i}] holds {got}; every row needs {width} values, one "
                'per name in "columns".'
            )
    return Rows(
        len(data), columns={name: [row[j] for row in data] for j, name in enumerate(columns)}
    )


def _rows_of(value: Any, what: str) -> Rows:
    """A list of row objects or a list of positional rows."""
    if not isinstance(value, list):
        raise bad_request(
            f"{what} must be a list of rows (objects or lists of values), not a "
            f"{_json_type(value)}."
        )
    if not value:
        raise bad_request(f"{what} holds no rows; send at least one.")
    if isinstance(value[0], dict):
        return Rows.from_records(value, what)
    if isinstance(value[0], list):
        return Rows.from_positional(value, what)
    # a list of scalars: one value per row of a single-column model
    if any(isinstance(v, dict | list) for v in value):
        raise bad_request(f"{what} mixes rows of different shapes.")
    return Rows.from_positional([[v] for v in value], what)


# ------------------------------------------------------------------------------- CSV


def parse_csv(body: bytes) -> Rows:
    """CSV with a header row; cells stay strings until a model's column kinds convert them."""
    if not body:
        raise bad_request("the request body is empty; send a CSV header row and data rows.")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise bad_request(f"the CSV body is not UTF-8: {exc}") from None
    if "\x00" in text:
        raise bad_request("the CSV body holds a NUL character.")
    try:
        lines = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise bad_request(f"the body is not valid CSV: {exc}") from None
    lines = [line for line in lines if line]  # blank lines carry no row
    if len(lines) < 2:
        raise bad_request("CSV needs a header row and at least one data row.")
    header = lines[0]
    if len(set(header)) != len(header) or any(not name for name in header):
        raise bad_request("the CSV header must name every column once.")
    width = len(header)
    for i, line in enumerate(lines[1:]):
        if len(line) != width:
            raise bad_request(f"CSV data row {i} has {len(line)} fields; the header has {width}.")
    if len(lines) == 2:
        return Rows(1, row=dict(zip(header, lines[1], strict=True)), text=True)
    data = lines[1:]
    return Rows(
        len(data),
        columns={name: [line[j] for line in data] for j, name in enumerate(header)},
        text=True,
    )


# ------------------------------------------------------------------------ v2 (OIP)


class V2Request:
    """A decoded v2 infer request: its rows, ``id`` and requested output names."""

    __slots__ = ("rows", "id", "outputs")

    def __init__(self, rows: Rows, id: str | None, outputs: list[str] | None) -> None:
        self.rows = rows
        self.id = id
        self.outputs = outputs


def parse_v2(payload: Any, input_names: Sequence[str]) -> V2Request:
    """The Open Inference Protocol's infer request. Inputs are either one tensor per
    model column (``name`` = column, shape ``[n]`` or ``[n, 1]``), or a single 2-D
    tensor ``[n, n_columns]`` whose columns follow the model's input order."""
    if not isinstance(payload, dict):
        raise bad_request(f"the infer request must be a JSON object, not a {_json_type(payload)}.")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise bad_request('the infer request needs "inputs": a non-empty list of tensors.')
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise bad_request('"id" must be a string.')
    outputs = payload.get("outputs")
    names_out: list[str] | None = None
    if outputs is not None:
        if not isinstance(outputs, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
        ):
            raise bad_request('"outputs" must be a list of {"name": ...} objects.')
        names_out = [o["name"] for o in outputs]
    tensors = [_tensor(t, i) for i, t in enumerate(inputs)]
    known = set(input_names)
    if len(tensors) == 1 and tensors[0][0] not in known and len(tensors[0][1]) == 2:
        name, shape, data = tensors[0]
        n, width = shape
        rows = [data[i * width : (i + 1) * width] for i in range(n)]
        return V2Request(Rows.from_positional(rows, f"input {name!r}"), request_id, names_out)
    columns: dict[str, list[Any]] = {}
    n_rows: int | None = None
    for name, shape, data in tensors:
        if name in columns:
            raise bad_request(f"input {name!r} is given twice.")
        if len(shape) == 2 and shape[1] != 1 or len(shape) not in (1, 2):
            raise bad_request(
                f"input {name!r} has shape {shape}; a column tensor has shape [n] or [n, 1] "
                f"(or send one [n, {len(input_names)}] tensor in input column order)."
            )
        if n_rows is not None and shape[0] != n_rows:
            raise bad_request(f"inputs have different row counts ({n_rows} and {shape[0]}).")
        n_rows = shape[0]
        columns[name] = data
    if not n_rows:
        raise bad_request("the infer request holds no rows.")
    if n_rows == 1:
        return V2Request(Rows(1, row={k: v[0] for k, v in columns.items()}), request_id, names_out)
    return V2Request(Rows(n_rows, columns=columns), request_id, names_out)


def _tensor(tensor: Any, i: int) -> tuple[str, list[int], list[Any]]:
    if not isinstance(tensor, dict):
        raise bad_request(f"inputs[{i}] must be a tensor object, not a {_json_type(tensor)}.")
    name, shape, datatype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
    if not isinstance(name, str) or not name:
        raise bad_request(f'inputs[{i}] needs a "name" (a string).')
    if (
        not isinstance(shape, list)
        or not shape
        or not all(type(d) is int and d >= 0 for d in shape)
    ):
        raise bad_request(f'input {name!r} needs a "shape": a list of non-negative integers.')
    if datatype not in V2_DATATYPES:
        raise bad_request(
            f"input {name!r} has datatype {datatype!r}; use one of "
            f"{', '.join(sorted(V2_DATATYPES))}."
        )
    if "data" not in tensor:
        raise bad_request(f'input {name!r} needs "data".')
    data = _flatten(tensor["data"], name)
    size = 1
    for d in shape:
        size *= d
    if len(data) != size:
        raise bad_request(f"input {name!r} has {len(data)} values; its shape {shape} needs {size}.")
    return name, shape, data


def _flatten(data: Any, name: str) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    if not any(isinstance(v, list) for v in data):
        return data
    out: list[Any] = []
    stack = [iter(data)]
    depth_limit = 32
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                if len(stack) >= depth_limit:
                    raise bad_request(f"input {name!r} is nested too deeply.")
                stack.append(iter(value))
                break
            out.append(value)
        else:
            stack.pop()
    return out


# ---------------------------------------------------------------------------- helpers


def _names(columns: list[Any]) -> set[str]:
    """The distinct names of a column list (empty when one is not a string)."""
    try:
        names = set(columns)
    except TypeError:  # a list or object among the names
        return set()
    if set(map(type, names)) - {str}:
        return set()
    return names


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
