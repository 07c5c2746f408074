"""Policies: one YAML file per model saying which versions may hold an alias.

.. code-block:: yaml

    model: churn
    target_alias: production
    candidates: {labels_not: [rejected], newer_than: 30d}
    rules:
      - metric: f1
        at_least: 0.80
      - compare_to: production
        metric: f1
        min_improvement: 0.01
    choose: {best_by: f1, tie_break: newest}
    on_reject: {label: rejected}
    on_pass_not_chosen: {label: challenger}

:func:`load_policy` reads and checks a file and reports every mistake with its key and
line (:class:`PolicyError`); ``docs/policy.schema.json`` describes the same format as
a JSON Schema. The top-level ``monitor:`` section belongs to the monitoring stage: it
is accepted here, not checked, and left out of the policy's hash.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodline.errors import NotFoundError
from prodline.govern._spec import KeyPath, PolicyError, PolicyProblem, Problems, load_yaml
from prodline.govern.evidence import canonical_hash
from prodline.govern.notify import NotifyTarget, check_targets
from prodline.govern.rules import (
    ALIAS,
    LOWER_IS_BETTER,
    CustomRule,
    DataRule,
    FieldsRule,
    Rule,
    SliceRule,
    _class_key,
    parse_rule,
)

POLICY_DIR = "policies"
ROLLED_BACK = "rolled_back"
#: the events a policy's ``notify`` targets can ask for with ``on:``
EVENTS = ("promoted", "not_promoted", "rolled_back")
TOP_KEYS = (
    "model",
    "description",
    "target_alias",
    "candidates",
    "rules",
    "choose",
    "on_reject",
    "on_pass_not_chosen",
    "on_awaiting_approval",
    "notify",
    "monitor",
)
CANDIDATE_KEYS = ("labels_not", "labels", "newer_than", "last")
CHOOSE_KEYS = ("best_by", "class", "lower_is_better", "tie_break", "tie_within")
TIE_BREAKS = ("newest", "oldest")


@dataclass(frozen=True)
class CandidateFilter:
    """Which versions are considered: without any of ``labels_not``, with every one of
    ``labels``, registered within ``newer_than`` seconds, and only the ``last`` N."""

    labels_not: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    newer_than_seconds: float | None = None
    last: int | None = None


@dataclass(frozen=True)
class Choose:
    """How the winner is picked among the versions that pass: the best ``best_by`` metric
    (values within ``tie_within`` of the best tie), ties broken by version number."""

    best_by: str | None = None
    cls: str | None = None
    lower_is_better: bool = False
    tie_break: str = "newest"
    tie_within: float = 0.0


@dataclass(frozen=True)
class Policy:
    """A checked policy. ``document`` is the policy as data (without ``monitor``) and
    ``hash`` its sha256 in canonical JSON: comments and formatting do not change it."""

    target_alias: str
    rules: tuple[Rule, ...]
    model: str | None = None
    candidates: CandidateFilter = field(default_factory=CandidateFilter)
    choose: Choose = field(default_factory=Choose)
    reject_label: str = "rejected"
    challenger_label: str = "challenger"
    awaiting_label: str = "awaiting_approval"
    notify: tuple[NotifyTarget, ...] = ()
    source: str = "<dict>"
    document: dict[str, Any] = field(default_factory=dict)
    monitor: Any = None  # the monitoring stage's section, unchecked here
    hash: str = ""
    model_line: int | None = None  # where ``model:`` is in the file, for messages

    @property
    def slice_rules(self) -> list[SliceRule]:
        return [r for r in self.rules if isinstance(r, SliceRule)]

    @property
    def needs_train_snapshot_time(self) -> bool:
        return any(isinstance(r, DataRule) and r.fresh_seconds is not None for r in self.rules)

    @property
    def needs_full_contracts(self) -> bool:
        """Whether rules may read the contract's bulky fields (input schema, examples,
        dependencies): custom and slice rules, and contract_fields naming them."""
        from prodline.store.governance import BULKY_CONTRACT_FIELDS

        for r in self.rules:
            if isinstance(r, CustomRule | SliceRule):
                return True
            if isinstance(r, FieldsRule) and any(
                f.split(".")[0] in BULKY_CONTRACT_FIELDS for f in r.fields
            ):
                return True
        return False

    @property
    def outcome_labels(self) -> tuple[str, str, str]:
        """The labels governance sets and clears on the versions it evaluates."""
        return (self.reject_label, self.challenger_label, self.awaiting_label)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "hash": self.hash, "document": self.document}


# ------------------------------------------------------------------------------- loading
def default_policy_path(model: str) -> Path:
    """``policies/<model>.yaml`` (or ``.yml``) under the working directory."""
    base = Path(POLICY_DIR)
    for suffix in (".yaml", ".yml"):
        if (base / f"{model}{suffix}").is_file():
            return base / f"{model}{suffix}"
    return base / f"{model}.yaml"


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and check a policy file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(
            f"No policy file {file}. Write one (see docs/governance.md) or pass --policy PATH."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        problem = PolicyProblem("(document)", None, f"cannot be read: {exc}")
        raise PolicyError(str(file), [problem]) from None
    return parse_policy(text, source=str(file), base_dir=file.parent)


def parse_policy(
    policy: str | Mapping[str, Any], *, source: str | None = None, base_dir: Path | None = None
) -> Policy:
    """Check a policy given as YAML text or as a mapping; raise :class:`PolicyError`
    listing every problem with its key (and line, for text)."""
    if isinstance(policy, str):
        source = source or "<text>"
        data, lines = load_yaml(policy, source)
    elif isinstance(policy, Mapping):
        source = source or "<dict>"
        data, lines = _plain(policy), {}
    else:
        raise PolicyError(
            source or "<policy>",
            [
                PolicyProblem(
                    "(document)",
                    None,
                    f"must be YAML text or a mapping, not {type(policy).__name__}",
                )
            ],
        )
    problems = Problems(source, lines)
    return _build(data, problems, source, base_dir)


def resolve_policy(model: str, policy: Any = None) -> Policy:
    """The policy for ``model``: a :class:`Policy`, a mapping, a path, or (``None``)
    ``policies/<model>.yaml``. Its ``model:`` key, when given, must name ``model``."""
    if isinstance(policy, Policy):
        resolved = policy
    elif isinstance(policy, Mapping):
        resolved = parse_policy(policy)
    elif policy is None:
        path = default_policy_path(model)
        if not path.is_file():
            raise NotFoundError(
                f"No policy for model {model!r}: looked for {path} (relative to "
                f"{Path.cwd()}). Write one (see docs/governance.md) or pass --policy PATH."
            )
        resolved = load_policy(path)
    elif isinstance(policy, str | os.PathLike):
        resolved = load_policy(policy)
    else:
        raise PolicyError(
            "<policy>",
            [
                PolicyProblem(
                    "(document)",
                    None,
                    f"must be a path, a mapping or a Policy, not {type(policy).__name__}",
                )
            ],
        )
    if resolved.model is not None and resolved.model != model:
        raise PolicyError(
            resolved.source,
            [
                PolicyProblem(
                    "model",
                    resolved.model_line,
                    f"this policy is for model {resolved.model!r}, not {model!r}",
                )
            ],
        )
    return resolved


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _build(data: Any, problems: Problems, source: str, base_dir: Path | None) -> Policy:
    root = problems.mapping(data, (), " (a policy: model, target_alias, rules, ...)")
    if root is None:
        problems.raise_if_any()
    assert root is not None
    problems.known_keys(root, (), TOP_KEYS, "policy")

    model = None
    if "model" in root:
        model = problems.text(root["model"], ("model",), hint=" (the registered model name)")
    target_alias = "production"
    if "target_alias" in root:
        target_alias = (
            problems.text(
                root["target_alias"],
                ("target_alias",),
                pattern=ALIAS,
                hint=" (lowercase letters, digits, _ and -)",
            )
            or target_alias
        )
    if "description" in root:
        problems.text(root["description"], ("description",))

    rules: list[Rule] = []
    if "rules" not in root:
        problems.add((), "needs rules: a list of rules (see docs/governance.md)")
    elif not isinstance(root["rules"], list):
        problems.add(("rules",), "must be a list of rules, each starting with '- '")
    else:
        if not root["rules"]:
            problems.add(("rules",), "is empty: give at least one rule")
        for i, item in enumerate(root["rules"]):
            parsed = parse_rule(item, ("rules", i), problems, i, base_dir)
            if parsed is not None:
                rules.append(parsed)

    candidates = (
        _candidates(root.get("candidates"), problems) if "candidates" in root else CandidateFilter()
    )
    choose = _choose(root.get("choose"), problems) if "choose" in root else Choose()
    labels = {}
    for key, default in (
        ("on_reject", "rejected"),
        ("on_pass_not_chosen", "challenger"),
        ("on_awaiting_approval", "awaiting_approval"),
    ):
        labels[key] = _label(root[key], (key,), problems) if key in root else default
        labels[key] = labels[key] or default
    if len(set(labels.values())) != 3 or ROLLED_BACK in labels.values():
        problems.add(
            ("on_reject",),
            "on_reject, on_pass_not_chosen and on_awaiting_approval "
            f"need three different labels, none of them {ROLLED_BACK!r}",
        )
    notify: list[NotifyTarget] = []
    if "notify" in root:
        notify = check_targets(root["notify"], ("notify",), problems, EVENTS)
    problems.raise_if_any()

    document = {k: v for k, v in root.items() if k != "monitor"}
    document = json.loads(json.dumps(document, default=str))
    return Policy(
        model=model,
        target_alias=target_alias,
        rules=tuple(rules),
        candidates=candidates,
        choose=choose,
        reject_label=labels["on_reject"],
        challenger_label=labels["on_pass_not_chosen"],
        awaiting_label=labels["on_awaiting_approval"],
        notify=tuple(notify),
        source=source,
        document=document,
        monitor=root.get("monitor"),
        hash=canonical_hash(document),
        model_line=problems.lines.get(("model",)),
    )


def _candidates(value: Any, problems: Problems) -> CandidateFilter:
    path: KeyPath = ("candidates",)
    spec = problems.mapping(value, path, " like {labels_not: [rejected], newer_than: 30d}")
    if spec is None:
        return CandidateFilter()
    problems.known_keys(spec, path, CANDIDATE_KEYS, "candidates")
    out: dict[str, Any] = {}
    for key in ("labels_not", "labels"):
        if key in spec:
            out[key] = tuple(
                problems.texts(spec[key], path + (key,), pattern=ALIAS, hint=" (label names)") or ()
            )
    if "newer_than" in spec:
        out["newer_than_seconds"] = problems.duration(spec["newer_than"], path + ("newer_than",))
    if "last" in spec:
        out["last"] = problems.integer(spec["last"], path + ("last",), minimum=1)
    return CandidateFilter(**out)


def _choose(value: Any, problems: Problems) -> Choose:
    path: KeyPath = ("choose",)
    spec = problems.mapping(value, path, " like {best_by: f1, tie_break: newest}")
    if spec is None:
        return Choose()
    problems.known_keys(spec, path, CHOOSE_KEYS, "choose")
    best_by = None
    if "best_by" in spec:
        best_by = problems.text(spec["best_by"], path + ("best_by",), hint=" (a metric)")
    klass = _class_key(spec["class"], path + ("class",), problems) if "class" in spec else None
    lower = None
    if "lower_is_better" in spec:
        lower = problems.boolean(spec["lower_is_better"], path + ("lower_is_better",))
    tie_break = "newest"
    if "tie_break" in spec:
        tie_break = (
            problems.choice(spec["tie_break"], path + ("tie_break",), TIE_BREAKS) or "newest"
        )
    tie_within = 0.0
    if "tie_within" in spec:
        tie_within = problems.number(spec["tie_within"], path + ("tie_within",), minimum=0) or 0.0
    return Choose(
        best_by=best_by,
        cls=klass,
        lower_is_better=lower if lower is not None else (best_by or "") in LOWER_IS_BETTER,
        tie_break=tie_break,
        tie_within=tie_within,
    )


def _label(value: Any, path: KeyPath, problems: Problems) -> str | None:
    spec = problems.mapping(value, path, " like {label: rejected}")
    if spec is None:
        return None
    problems.known_keys(spec, path, ("label",), path[0] if path else "label")
    if "label" not in spec:
        problems.add(path, "needs label: NAME")
        return None
    return problems.text(
        spec["label"],
        path + ("label",),
        pattern=ALIAS,
        hint=" (lowercase letters, digits, _ and -)",
    )
