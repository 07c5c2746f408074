"""The one place prodline reads its configuration.

Resolution order, first match wins:

1. ``prodline.init(home=..., store_url=..., artifacts_url=...)`` in this process;
2. the environment: ``PRODLINE_STORE_URL``, ``PRODLINE_ARTIFACTS_URL``, ``PRODLINE_HOME``;
3. defaults: ``./.prodline/prodline.db`` (SQLite) and ``./.prodline/artifacts/``.

Nothing else in prodline reads the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from prodline.errors import ConfigError

ENV_HOME = "PRODLINE_HOME"
ENV_STORE_URL = "PRODLINE_STORE_URL"
ENV_ARTIFACTS_URL = "PRODLINE_ARTIFACTS_URL"
ENV_REPRODUCE_OF = "PRODLINE_REPRODUCE_OF"
DEFAULT_HOME = ".prodline"


@dataclass(frozen=True)
class Settings:
    """Resolved configuration: where metadata and artifacts live."""

    home: Path
    store_url: str
    artifacts_url: str


_overrides: dict[str, str | None] = {}


def init(
    home: str | os.PathLike[str] | None = None,
    store_url: str | None = None,
    artifacts_url: str | None = None,
) -> Settings:
    """Point this process at a home folder, a store URL and/or an artifacts URL.

    Arguments left as ``None`` fall back to the environment, then to defaults.
    Returns the resolved settings. Open stores are closed so the next call uses
    the new location.
    """
    _overrides.clear()
    _overrides.update(
        home=None if home is None else os.fspath(home),
        store_url=store_url,
        artifacts_url=artifacts_url,
    )
    from prodline import _context

    _context.reset()
    return settings()


def settings() -> Settings:
    """Return the configuration in force now."""
    home_value = _overrides.get("home") or os.environ.get(ENV_HOME) or DEFAULT_HOME
    home = Path(home_value).expanduser().absolute()
    store_url = _overrides.get("store_url") or os.environ.get(ENV_STORE_URL)
    if not store_url:
        store_url = f"sqlite:///{home / 'prodline.db'}"
    artifacts_url = _overrides.get("artifacts_url") or os.environ.get(ENV_ARTIFACTS_URL)
    if not artifacts_url:
        artifacts_url = str(home / "artifacts")
    if not isinstance(store_url, str) or not store_url.strip():
        raise ConfigError("The store URL is empty; set PRODLINE_STORE_URL to a SQLAlchemy URL.")
    return Settings(home=home, store_url=store_url.strip(), artifacts_url=artifacts_url.strip())


def reproduce_of() -> str | None:
    """The run id this process is reproducing, when started by ``prodline.reproduce``."""
    return os.environ.get(ENV_REPRODUCE_OF) or None
