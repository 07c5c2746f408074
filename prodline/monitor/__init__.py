"""Monitoring: data and prediction drift, performance once labels arrive, champion
against challenger, alert rules and HTML reports.

- ``compare(reference, current)``: drift between any two datasets (DataFrames, files,
  or a stored profile as the reference).
- ``monitor(model, window="1d")``: a served model's logged predictions against the
  training profile of the version(s) that served them, window by window.
- ``check(model)``: the alert rules of ``policies/<model>.yaml`` (``monitor:``).

Names resolve lazily so ``import prodline.monitor`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodline._lazy import lazy_exports

_PUBLIC = {
    "compare": "prodline.monitor.drift",
    "DriftReport": "prodline.monitor.drift",
    "ColumnDrift": "prodline.monitor.drift",
    "Thresholds": "prodline.monitor.thresholds",
    "monitor": "prodline.monitor.service",
    "MonitorResult": "prodline.monitor.service",
    "VersionWindow": "prodline.monitor.service",
    "Performance": "prodline.monitor.performance",
    "ABTest": "prodline.monitor.performance",
    "check": "prodline.monitor.alerts",
    "evaluate": "prodline.monitor.alerts",
    "Alert": "prodline.monitor.alerts",
    "CheckResult": "prodline.monitor.alerts",
    "load_policy": "prodline.monitor.policy",
    "MonitorPolicy": "prodline.monitor.policy",
    "write_retrain_request": "prodline.monitor.actions",
    "pending_retrain_requests": "prodline.monitor.actions",
    "write_report": "prodline.monitor.report",
}

__all__ = [
    "ABTest",
    "Alert",
    "CheckResult",
    "ColumnDrift",
    "DriftReport",
    "MonitorPolicy",
    "MonitorResult",
    "Performance",
    "Thresholds",
    "VersionWindow",
    "check",
    "compare",
    "evaluate",
    "load_policy",
    "monitor",
    "pending_retrain_requests",
    "write_report",
    "write_retrain_request",
]

if TYPE_CHECKING:  # pragma: no cover
    from prodline.monitor.actions import pending_retrain_requests, write_retrain_request
    from prodline.monitor.alerts import Alert, CheckResult, check, evaluate
    from prodline.monitor.drift import ColumnDrift, DriftReport, compare
    from prodline.monitor.performance import ABTest, Performance
    from prodline.monitor.policy import MonitorPolicy, load_policy
    from prodline.monitor.report import write_report
    from prodline.monitor.service import MonitorResult, VersionWindow, monitor
    from prodline.monitor.thresholds import Thresholds


__getattr__, __dir__ = lazy_exports("prodline.monitor", _PUBLIC, globals())
