"""Drift thresholds: the defaults, why they are what they are, and per-column overrides.

p-value tests flag everything at a million rows: any difference, however small, is
"significant". So the decision rests on effect sizes (distances) whose scale does not
depend on the number of rows, and the tests are used only where sampling noise alone
could push a distance over its threshold: small samples. ``docs/monitoring.md``
explains each default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from prodline.errors import InvalidValueError

#: the statistics a column override may set
COLUMN_KEYS = (
    "wasserstein",
    "psi",
    "jensen_shannon",
    "missing_rate",
    "new_category_share",
    "p_value",
    "small_sample",
    "ignore",
)


@dataclass(frozen=True)
class Thresholds:
    """When a column, a dataset or a prediction counts as drifted.

    - ``wasserstein`` (0.1): numeric columns, the Wasserstein-1 distance divided by the
      reference's standard deviation. 0.1 means the distribution moved a tenth of a
      standard deviation: for a pure shift, the mean moved by 0.1 sigma.
    - ``psi`` (0.2): population stability index on the reference's decile bins
      (numeric) or categories. The credit-scoring convention reads < 0.1 as stable,
      0.1-0.25 as a moderate and > 0.25 as a major shift; 0.2 sits at the upper end
      of "moderate".
    - ``jensen_shannon`` (0.1): categorical columns, Jensen-Shannon distance (base 2,
      0 = same distribution, 1 = disjoint).
    - ``missing_rate`` (0.05): an absolute change of the share of missing values
      of more than 5 points is reported (separately from distribution drift).
    - ``new_category_share`` (0.005): values unseen in the reference making up more than
      0.5% of a categorical column are reported (separately). They also count in the
      column's distances: around 2% of new values alone reach the Jensen-Shannon
      threshold, so this report comes first.
    - ``p_value`` (0.05) and ``small_sample`` (5000): when either side has fewer than
      ``small_sample`` values, a column drifts only if its distance is over threshold
      *and* the Kolmogorov-Smirnov (numeric) or chi-square (categorical) test rejects
      "same distribution" at ``p_value``. Below about 5,000 rows, sampling noise alone
      takes normalised Wasserstein distances of real (heavy-tailed) features past 0.1;
      from there on it stays under half of it, and the distance decides alone.
    - ``drift_share`` (0.5): the dataset drifts when at least this share of its
      features (weighted by importance when given) drift.
    - ``columns``: per-column overrides, ``{"income": {"wasserstein": 0.2},
      "customer_id": {"ignore": True}}``.
    """

    wasserstein: float = 0.1
    psi: float = 0.2
    jensen_shannon: float = 0.1
    missing_rate: float = 0.05
    new_category_share: float = 0.005
    p_value: float = 0.05
    small_sample: int = 5000
    drift_share: float = 0.5
    columns: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "columns":
                continue
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidValueError(
                    f"drift threshold {f.name!r} must be a number >= 0, not {value!r}"
                )
        if not isinstance(self.columns, Mapping):
            raise InvalidValueError(
                "drift thresholds 'columns' must map column names to overrides, e.g. "
                "{'income': {'wasserstein': 0.2}}"
            )
        for name, override in self.columns.items():
            if not isinstance(override, Mapping):
                raise InvalidValueError(
                    f"the threshold override of column {name!r} must be a mapping such as "
                    f"{{'wasserstein': 0.2}}, not {override!r}"
                )
            unknown = sorted(set(override) - set(COLUMN_KEYS))
            if unknown:
                raise InvalidValueError(
                    f"unknown threshold(s) {unknown} for column {name!r}; use "
                    f"{', '.join(COLUMN_KEYS)}"
                )
            for key, value in override.items():
                if key == "ignore":
                    if not isinstance(value, bool):
                        raise InvalidValueError(
                            f"column {name!r}: 'ignore' must be true or false, not {value!r}"
                        )
                elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise InvalidValueError(
                        f"column {name!r}: threshold {key!r} must be a number >= 0, not {value!r}"
                    )

    @classmethod
    def of(cls, value: Thresholds | Mapping[str, Any] | None) -> Thresholds:
        """``value`` as Thresholds: None gives the defaults; a mapping sets some fields
        (unknown keys are refused with the list of known ones)."""
        if value is None:
            return cls()
        if isinstance(value, Thresholds):
            return value
        if not isinstance(value, Mapping):
            raise InvalidValueError(
                f"thresholds must be a mapping or Thresholds, not {type(value).__name__}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise InvalidValueError(
                f"unknown drift threshold(s) {unknown}; use {', '.join(sorted(known))}"
            )
        return cls(**dict(value))

    def merged(self, value: Thresholds | Mapping[str, Any] | None) -> Thresholds:
        """These thresholds with the fields set in ``value`` replaced (column overrides
        are merged column by column)."""
        if value is None:
            return self
        other = value.to_dict() if isinstance(value, Thresholds) else dict(value)
        columns = {k: dict(v) for k, v in self.columns.items()}
        overrides = other.pop("columns", None) or {}
        if not isinstance(overrides, Mapping):
            raise InvalidValueError("drift thresholds 'columns' must be a mapping")
        for name, override in overrides.items():
            if not isinstance(override, Mapping):
                raise InvalidValueError(
                    f"the threshold override of column {name!r} must be a mapping"
                )
            columns.setdefault(str(name), {}).update(override)
        base = self.to_dict()
        base.update(other)
        base["columns"] = columns
        return Thresholds.of(base)

    def column(self, name: str) -> dict[str, Any]:
        """The thresholds in force for one column."""
        out: dict[str, Any] = {
            "wasserstein": self.wasserstein,
            "psi": self.psi,
            "jensen_shannon": self.jensen_shannon,
            "missing_rate": self.missing_rate,
            "new_category_share": self.new_category_share,
            "p_value": self.p_value,
            "small_sample": self.small_sample,
            "ignore": False,
        }
        out.update(self.columns.get(name, {}))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "columns"}
        out["columns"] = {k: dict(v) for k, v in self.columns.items()}
        return out
