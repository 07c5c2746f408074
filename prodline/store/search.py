"""Run search and run detail, loading related rows in a few set-based queries."""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select

from prodline.errors import InvalidValueError, NotFoundError
from prodline.store import tables as t
from prodline.store.base import StoreBase
from prodline.store.filters import ATTRIBUTES, parse_field, parse_filter, required_metrics
from prodline.store.records import RunList, RunRecord
from prodline.store.runs import chunked

MAX_RESULTS_LIMIT = 50_000
HYDRATE_CHUNK = 1_000  # run ids per IN (...) when loading params, metrics and tags
_RUN_COLUMNS = (
    t.runs.c.id,
    t.runs.c.experiment_id,
    t.experiments.c.name.label("experiment"),
    t.runs.c.name,
    t.runs.c.status,
    t.runs.c.start_time,
    t.runs.c.end_time,
    t.runs.c.error,
    t.runs.c.reproduced_from,
)


class SearchStore(StoreBase):
    """Find runs by a filter and ordering; read one run in full."""

    def search_runs(
        self,
        experiments: Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> RunList:
        """Runs matching ``filter`` in the named experiments (all when ``None``).

        ``order_by`` entries look like ``"metrics.f1 DESC"`` or ``"start_time"``; runs
        missing the ordering value come last. Pages: pass ``next_page_token`` back.
        """
        if not isinstance(max_results, int) or not 1 <= max_results <= MAX_RESULTS_LIMIT:
            raise InvalidValueError(f"max_results must be an integer in 1..{MAX_RESULTS_LIMIT}.")
        offset = _decode_token(page_token)
        query: Select[Any] = select(*_RUN_COLUMNS).join(
            t.experiments, t.experiments.c.id == t.runs.c.experiment_id
        )
        if experiments:
            self._require_experiments(experiments)
            query = query.where(t.experiments.c.name.in_(list(experiments)))
        has_filter = bool(filter and filter.strip())
        required = required_metrics(filter) if has_filter else set()
        query, joined_metrics = _ordered(query, order_by or [], required)
        if has_filter:
            query = query.where(parse_filter(filter, joined_metrics))
        query = query.limit(max_results + 1).offset(offset)
        with self.read() as conn:
            rows = conn.execute(query).all()
        more = len(rows) > max_results
        result = RunList(self._hydrate(rows[:max_results], full=False))
        result.next_page_token = _encode_token(offset + max_results) if more else None
        return result

    def _require_experiments(self, names: Sequence[str]) -> None:
        with self.read() as conn:
            known = set(conn.execute(select(t.experiments.c.name)).scalars())
        missing = [name for name in names if name not in known]
        if missing:
            raise NotFoundError(
                f"No experiment named {', '.join(repr(m) for m in missing)}. "
                f"Known experiments: {', '.join(sorted(known)) or 'none yet'}."
            )

    def get_run(self, run_id: str) -> RunRecord:
        """One run with params, latest metrics, tags, notes, artifacts, datasets, code
        and environment."""
        query = (
            select(*_RUN_COLUMNS, t.runs.c.code, t.runs.c.environment)
            .join(t.experiments, t.experiments.c.id == t.runs.c.experiment_id)
            .where(t.runs.c.id == run_id)
        )
        with self.read() as conn:
            rows = conn.execute(query).all()
        if not rows:
            raise NotFoundError(f"No run with id {run_id!r}. See `prodline runs list`.")
        return self._hydrate(rows, full=True)[0]

    def _hydrate(self, rows: Sequence[Any], full: bool) -> list[RunRecord]:
        ids = [row[0] for row in rows]
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
        notes: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        n = t.run_notes
        with self.read() as conn:
            cursor = conn.connection.cursor()
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            try:
                for batch in chunked(ids, HYDRATE_CHUNK):
                    cursor.execute(_keyed_values_sql(len(batch), mark), batch * 3)
                    for kind, run_id, key, text, number in cursor.fetchall():
                        if kind == 2:  # a metric: NaN is stored as NULL
                            metrics[run_id][key] = math.nan if number is None else number
                        elif kind:
                            tags[run_id][key] = text
                        else:
                            params[run_id][key] = text
            finally:
                cursor.close()
            if full:
                for batch in chunked(ids, HYDRATE_CHUNK):
                    for run_id, created, text in conn.execute(
                        select(n.c.run_id, n.c.created_at, n.c.text)
                        .where(n.c.run_id.in_(batch))
                        .order_by(n.c.id)
                    ).all():
                        notes[run_id].append({"created_at": created, "text": text})
        if not full:  # a search page: rows hold _RUN_COLUMNS, read by position (fast)
            return [
                RunRecord(
                    *row[:7],  # id, experiment_id, experiment, name, status, start, end
                    params[row[0]],
                    metrics[row[0]],
                    tags[row[0]],
                    error=row[7],
                    reproduced_from=row[8],
                )
                for row in rows
            ]
        datasets = self.run_datasets(ids)  # type: ignore[attr-defined]
        return [
            RunRecord(
                id=row.id,
                experiment_id=row.experiment_id,
                experiment=row.experiment,
                name=row.name,
                status=row.status,
                start_time=row.start_time,
                end_time=row.end_time,
                params=params[row.id],
                metrics=metrics[row.id],
                tags=tags[row.id],
                error=row.error,
                code=row.code,
                environment=row.environment,
                reproduced_from=row.reproduced_from,
                notes=notes[row.id],
                artifacts=self.list_artifacts(row.id),  # type: ignore[attr-defined]
                datasets=datasets[row.id],
            )
            for row in rows
        ]


@functools.lru_cache(maxsize=64)
def _keyed_values_sql(n_ids: int, mark: str) -> str:
    """One statement reading the params (kind 0), tags (1) and latest metrics (2) of
    ``n_ids`` runs, in key order, as (kind, run_id, key, text, number): a plain DBAPI
    query, as it runs on every search page."""
    ids = ", ".join([mark] * n_ids)
    parts = [
        f'SELECT {kind} AS kind, run_id, "key", {columns} FROM {table} WHERE run_id IN ({ids})'
        for kind, table, columns in (
            (0, "params", '"value" AS text, CAST(NULL AS DOUBLE PRECISION) AS number'),
            (1, "tags", '"value", CAST(NULL AS DOUBLE PRECISION)'),
            (2, "latest_metrics", 'CAST(NULL AS TEXT), "value"'),
        )
    ]
    return " UNION ALL ".join(parts) + ' ORDER BY kind, "key"'


def _ordered(
    query: Select[Any], order_by: Sequence[str], required: set[str] = frozenset()
) -> tuple[Select[Any], dict[str, Any]]:
    """Add ORDER BY; returns the query and the value column of each metric it joined.

    A metric the filter already requires is inner-joined, which lets the database walk
    that metric's (key, value) index in order and stop at the limit; the filter then
    compares the joined column instead of running its own subquery.
    """
    terms = []
    joined_metrics: dict[str, Any] = {}
    for position, spec in enumerate(order_by):
        if not isinstance(spec, str) or not spec.strip():
            raise InvalidValueError(
                f"order_by entries are strings like 'metrics.f1 DESC', got {spec!r}."
            )
        text = spec.strip()
        head, _, direction = text.rpartition(" ")
        if direction.upper() not in ("ASC", "DESC"):
            if " " in text and not text.endswith(("`", '"')):
                raise InvalidValueError(
                    f"order_by {spec!r}: end with ASC or DESC (or nothing), e.g. "
                    "'metrics.f1 DESC'; put keys with spaces in backquotes."
                )
            head, direction = text, "ASC"
        field = parse_field(head.strip())
        descending = direction.upper() == "DESC"
        if field.kind == "attribute":
            column: Any = ATTRIBUTES[field.key]
        else:
            table = {"metric": t.latest_metrics, "param": t.params, "tag": t.tags}[field.kind]
            alias = table.alias(f"order_{position}")
            on = (alias.c.run_id == t.runs.c.id) & (alias.c.key == field.key)
            inner = field.kind == "metric" and field.key in required
            query = query.join(alias, on) if inner else query.outerjoin(alias, on)
            column = alias.c.value
            if field.kind == "metric":
                joined_metrics[field.key] = column
        terms.append((column.desc() if descending else column.asc()).nulls_last())
    terms += [t.runs.c.start_time.desc(), t.runs.c.id]
    return query.order_by(*terms), joined_metrics


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind != "offset":
            raise ValueError(kind)
        return int(number)
    except (ValueError, UnicodeDecodeError):
        raise InvalidValueError(
            f"Invalid page token {token!r}; pass next_page_token as given."
        ) from None
