"""Server settings (:class:`ServeConfig`) and champion/challenger routing
(:class:`RoutingConfig`, read from YAML or JSON).

A routing file::

    champion: production        # alias or version number (CLI --alias/--version win)
    challenger: staging         # alias or version number
    mode: canary                # single | split | shadow | canary
    percent: 5                  # challenger's share of traffic (split, canary)
    sticky: header:X-Customer-Id  # or field:customer_id; same key -> same version
    step: 10                    # canary: percent added by one step

Only ``mode`` (and, except for ``single``, ``challenger``) is required.
"""

from __future__ import annotations

import ipaddress
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from prodline.errors import ConfigError

MODES = ("single", "split", "shadow", "canary")
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_RELOAD_INTERVAL_S = 2.0
_ROUTING_KEYS = {"champion", "challenger", "mode", "percent", "sticky", "step"}


@dataclass(frozen=True)
class RoutingConfig:
    """How traffic is shared between the champion and a challenger.

    - ``single``: the champion answers everything.
    - ``split``: an A/B test; ``percent`` of requests go to the challenger. With
      ``sticky`` (``header:NAME`` or ``field:NAME``) the same key always gets the same
      version; without it each request is drawn at random.
    - ``shadow``: the champion answers; the challenger gets a copy off the request path.
    - ``canary``: like ``split``, and ``percent`` can be stepped up while serving
      (``POST /admin/routing`` or by editing the routing file). With a sticky key,
      raising the percent only moves keys to the challenger, never back.
    """

    mode: str = "single"
    champion: str | None = None
    challenger: str | None = None
    percent: float = 0.0
    sticky: str | None = None
    step: float = 10.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"routing mode {self.mode!r} is not one of {', '.join(MODES)}.")
        if self.mode != "single" and not self.challenger:
            raise ConfigError(
                f"routing mode {self.mode!r} needs a challenger (an alias such as 'staging', "
                "or a version number)."
            )
        for name in ("percent", "step"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or not 0 <= value <= 100
            ):
                raise ConfigError(f"routing {name} must be a number from 0 to 100, not {value!r}.")
        if self.sticky is not None:
            kind, _, name = str(self.sticky).partition(":")
            if kind not in ("header", "field") or not name.strip():
                raise ConfigError(
                    f"routing sticky {self.sticky!r}: write header:NAME (e.g. "
                    "header:X-Customer-Id) or field:NAME (e.g. field:customer_id)."
                )

    @property
    def sticky_kind(self) -> str | None:
        return None if self.sticky is None else self.sticky.partition(":")[0]

    @property
    def sticky_name(self) -> str | None:
        return None if self.sticky is None else self.sticky.partition(":")[2].strip()

    def with_percent(self, percent: float) -> RoutingConfig:
        return replace(self, percent=percent)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "champion": self.champion,
            "challenger": self.challenger,
            "percent": self.percent,
            "sticky": self.sticky,
            "step": self.step,
        }

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "routing config") -> RoutingConfig:
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ConfigError(f"{where} must be a mapping of settings, not {type(data).__name__}.")
        unknown = sorted(set(data) - _ROUTING_KEYS)
        if unknown:
            raise ConfigError(
                f"{where}: unknown setting(s) {', '.join(unknown)}; use "
                f"{', '.join(sorted(_ROUTING_KEYS))}."
            )
        values = dict(data)
        for key in ("champion", "challenger", "sticky"):
            if values.get(key) is not None:
                values[key] = str(values[key])
        values.setdefault("mode", "split" if values.get("challenger") else "single")
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        except TypeError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> RoutingConfig:
        """Read a YAML (``.yaml``/``.yml``) or JSON routing file."""
        source = Path(path)
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read routing file {source}: {exc}") from None
        try:
            if source.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as exc:  # yaml.YAMLError, json.JSONDecodeError
            raise ConfigError(f"routing file {source} is not valid: {exc}") from None
        return cls.from_dict(data, where=f"routing file {source}")


@dataclass(frozen=True)
class ServeConfig:
    """Everything a server (and each of its worker processes) needs to start."""

    model: str = ""
    alias: str | None = None  # None: the routing file's champion, else "production"
    version: int | None = None
    package_dir: str | None = None  # serve a `prodline build` directory, without a store
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    routing_file: str | None = None  # re-read when it changes
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    batching: bool | None = None  # None: on when it helps this model (measured at load)
    max_batch_rows: int = 64
    max_batch_wait_ms: float = 0.0
    log_predictions: bool = True
    log_queue_rows: int = 100_000
    log_batch_rows: int = 2_000
    log_flush_interval_s: float = 0.5
    log_writer: str = "process"  # "process": SQL writes on another core; "thread": in-process
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    reload_interval_s: float = DEFAULT_RELOAD_INTERVAL_S
    api_keys: tuple[str, ...] = ()
    auth: bool | None = None  # None: on when binding a non-loopback address or keys given
    enforce_ranges: bool = False
    extra_trusted: tuple[str, ...] = ()
    access_log: bool = False
    settings: tuple[str, str, str] | None = None  # (home, store_url, artifacts_url)
    metrics_dir: str | None = None
    shadow_queue: int = 1_000

    def __post_init__(self) -> None:
        if not self.package_dir and not self.model:
            raise ConfigError("name the model to serve, e.g. `prodline serve churn`.")
        if self.alias is not None and self.version is not None:
            raise ConfigError("give --alias or --version, not both.")
        if self.workers < 1:
            raise ConfigError("--workers must be at least 1.")
        if not 0 < self.port < 65536:
            raise ConfigError(f"--port {self.port} is not a TCP port (1-65535).")
        if self.max_body_bytes < 1:
            raise ConfigError("the body size limit must be at least 1 byte.")
        if self.max_batch_rows < 1 or self.max_batch_wait_ms < 0:
            raise ConfigError("max batch size must be >= 1 and max batch wait >= 0 ms.")
        if self.log_writer not in ("process", "thread"):
            raise ConfigError("the prediction log writer is 'process' or 'thread'.")
        if self.reload_interval_s < 0:
            raise ConfigError("the reload interval must be >= 0 seconds (0 turns it off).")
        if self.auth_enabled and not self.api_keys:
            raise ConfigError(
                f"serving on {self.host} (not a loopback address) requires API keys: pass "
                "--api-key KEY or --api-keys-file FILE, or --no-auth to serve without them."
            )

    @property
    def auth_enabled(self) -> bool:
        if self.auth is not None:
            return self.auth
        return bool(self.api_keys) or not is_loopback(self.host)

    @property
    def champion_ref(self) -> str:
        """``churn/3`` or ``churn@production``."""
        if self.version is not None:
            return f"{self.model}/{self.version}"
        return f"{self.model}@{self.routing.champion or self.alias or 'production'}"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_keys_file(path: str | Path) -> tuple[str, ...]:
    """API keys, one per line (blank lines and ``#`` comments ignored)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read API keys file {path}: {exc}") from None
    keys = tuple(
        line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
    )
    if not keys:
        raise ConfigError(f"API keys file {path} holds no keys (one per line).")
    return keys


def parse_size(text: str | int) -> int:
    """``1048576``, ``512KB``, ``10MB``, ``1MiB`` -> bytes."""
    if isinstance(text, int):
        return text
    value = str(text).strip().upper().replace(" ", "")
    units = {
        "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3,
        "KB": 1000, "MB": 1000**2, "GB": 1000**3, "K": 1024, "M": 1024**2, "B": 1,
    }  # fmt: skip
    number, factor = value, 1
    for unit, size in units.items():
        if value.endswith(unit):
            number, factor = value[: -len(unit)], size
            break
    try:
        size = int(float(number) * factor)
    except ValueError:
        raise ConfigError(f"{text!r} is not a size; write e.g. 1048576, 512KB or 10MB.") from None
    if size < 1:
        raise ConfigError(f"size {text!r} must be positive.")
    return size


def version_or_alias(text: str, model: str) -> tuple[int | None, str | None]:
    """``"4"`` -> (4, None); ``"staging"`` -> (None, "staging"); also ``churn/4`` and
    ``churn@staging`` (the model name must match)."""
    value = str(text).strip()
    for sep in ("@", "/"):
        if sep in value:
            name, _, rest = value.partition(sep)
            if name != model:
                raise ConfigError(f"{text!r} names model {name!r}; this server serves {model!r}.")
            if sep == "@":
                return None, _alias(rest, text)
            if not rest.isdigit() or int(rest) < 1:
                raise ConfigError(f"{text!r}: write NAME/VERSION with a version number >= 1.")
            return int(rest), None
    if value.isdigit():
        if int(value) < 1:
            raise ConfigError(f"{text!r}: version numbers start at 1.")
        return int(value), None
    return None, _alias(value, text)


def _alias(value: str, text: str) -> str:
    if not value:
        raise ConfigError(f"{text!r} is neither a version number nor an alias.")
    return value
