"""``prodline score``: score a CSV or Parquet file in chunks, checked against the
model's contract, and write the rows back with predictions (and probabilities).

Input is streamed with pyarrow (CSV columns the contract knows are read with the
contract's types; Parquet in row groups), so memory stays at one chunk whatever the
file size. Each chunk is validated before it is scored; the first chunk with
contract violations stops the job with every problem listed by column and row
(0-based data rows of the whole file) and nothing is written. Output goes to a
temporary file renamed into place at the end.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodline.errors import ContractViolationError, DataSourceError, InvalidValueError

DEFAULT_CHUNK_ROWS = 50_000
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
PREDICTION = "prediction"

Progress = Callable[[int, int | None], None]  # (rows done, total rows or None)


@dataclass
class ScoreSummary:
    """What ``score_file`` did."""

    ref: str
    input: str
    output: str
    rows: int
    chunks: int
    seconds: float
    columns: list[str]

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "input": self.input,
            "output": self.output,
            "rows": self.rows,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows_per_s, 1),
            "columns": self.columns,
        }


def file_format(path: str | Path, what: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidValueError(
            f"{what} {path} must end in .csv or .parquet (got {suffix or 'no suffix'!r})."
        )
    return FORMATS[suffix]


def score_file(
    ref: str,
    input: str | Path,
    output: str | Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    proba: bool = True,
    enforce_ranges: bool = False,
    progress: Progress | None = None,
) -> ScoreSummary:
    """Score ``input`` (CSV or Parquet) with ``ref`` and write ``output`` (CSV or
    Parquet, by suffix): every input column, then ``prediction`` and, for classifiers,
    one probability column per class (the contract's ``proba_columns``)."""
    import prodline

    source, target = Path(input), Path(output)
    in_format, out_format = file_format(source, "input"), file_format(target, "output")
    if not source.is_file():
        raise DataSourceError(f"input file {source} does not exist.")
    if chunk_rows < 1:
        raise InvalidValueError("--chunk-size must be at least 1 row.")
    if source.resolve() == target.resolve():
        raise InvalidValueError("the output file must not be the input file.")
    model = prodline.load_model(ref, validate=False)
    contract = model.contract
    names = contract.input_columns
    has_proba = proba and model.package.predictor.has_proba
    proba_columns = list(contract.output_schema.get("proba_columns") or [])
    started = time.perf_counter()
    total = _count_rows(source, in_format)
    batches = _read(source, in_format, contract, chunk_rows)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    writer: Any = None
    rows = chunks = 0
    columns: list[str] = []
    try:
        for batch in batches:
            frame = batch.to_pandas()
            _check(contract, frame, rows, enforce_ranges)
            X = frame[names]
            labels = model.package.predictor.predict(X)
            probabilities = model.package.predictor.predict_proba(X) if has_proba else None
            table = _with_predictions(batch, labels, probabilities, proba_columns)
            if writer is None:
                writer = _writer(partial, out_format, table.schema)
                columns = list(table.schema.names)
            writer.write_table(table)
            rows += batch.num_rows
            chunks += 1
            if progress is not None:
                progress(rows, total)
        if writer is None:  # an empty file: write the header / schema only
            raise InvalidValueError(f"input file {source} holds no rows.")
        writer.close()
        writer = None
        os.replace(partial, target)
    finally:
        if writer is not None:
            writer.close()
        if partial.exists():
            partial.unlink()
    return ScoreSummary(
        model.ref, str(source), str(target), rows, chunks, time.perf_counter() - started, columns
    )


def _check(contract: Any, frame: Any, offset: int, enforce_ranges: bool) -> None:
    from prodline.data.validate import ValidationReport, Violation
    from prodline.registry.versions import RANGE_PROBLEMS

    report = contract.validate(frame)
    found = report.violations
    if not enforce_ranges:
        found = [v for v in found if v.problem not in RANGE_PROBLEMS]
    if not found:
        return
    shifted = [
        Violation(
            v.column, v.problem, v.count, v.examples, [r + offset for r in v.rows], v.expected
        )
        for v in found
    ]
    report = ValidationReport(shifted, report.n_rows)
    message = contract.describe_violations(report).replace(
        "rows are 0-based positions in the input", "rows are 0-based data rows of the file"
    )
    raise ContractViolationError(message, report=report)


def _with_predictions(batch: Any, labels: Any, probabilities: Any, proba_columns: list[str]) -> Any:
    import numpy as np
    import pyarrow as pa

    table = pa.Table.from_batches([batch])
    used = set(table.schema.names)

    def fresh(name: str) -> str:
        while name in used:
            name = f"prodline_{name}"
        used.add(name)
        return name

    labels = np.asarray(labels)
    if labels.dtype.kind == "O":
        labels = labels.astype(str)
    table = table.append_column(fresh(PREDICTION), pa.array(labels))
    if probabilities is not None:
        names = proba_columns or [f"proba_{j}" for j in range(probabilities.shape[1])]
        for j, name in enumerate(names):
            table = table.append_column(fresh(name), pa.array(np.asarray(probabilities[:, j])))
    return table


def _writer(path: Path, fmt: str, schema: Any) -> Any:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetWriter(path, schema)
    import pyarrow.csv as pacsv

    return pacsv.CSVWriter(path, schema)


def _count_rows(path: Path, fmt: str) -> int | None:
    """Total data rows, for the progress bar (CSV: newlines, less the header)."""
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        lines, last = 0, b"\n"
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                lines += block.count(b"\n")
                last = block[-1:]
        return max(0, lines + (last != b"\n") - 1)
    except Exception:  # the reader reports real problems
        return None


def _read(path: Path, fmt: str, contract: Any, chunk_rows: int) -> Iterator[Any]:
    import pyarrow as pa

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            yield from pq.ParquetFile(path).iter_batches(batch_size=chunk_rows)
            return
        import pyarrow.csv as pacsv

        types = {}
        for column in contract.input_schema.columns:
            kind = column.kind
            if kind == "float":
                types[column.name] = pa.float64()
            elif kind == "integer":
                types[column.name] = pa.int64()
            elif kind in ("categorical", "string"):
                types[column.name] = pa.string()
            elif kind == "boolean":
                types[column.name] = pa.bool_()
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=8 << 20),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
        )
        for batch in reader:
            for start in range(0, batch.num_rows, chunk_rows):
                yield batch.slice(start, chunk_rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataSourceError(
            f"cannot read {path}: {message}. The contract's input columns must hold values "
            "of their kind (see `prodline models show`)."
        ) from None
