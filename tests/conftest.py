"""Shared fixtures: an isolated prodline home per test, and store URLs for SQLite and
for a real PostgreSQL server that this test session starts and stops itself."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import prodline
from prodline import _context
from tests.pg_server import PostgresServer, PostgresUnavailable

_pg_problem: list[str] = []
_database_numbers = itertools.count()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own empty home folder and no PRODLINE_* environment."""
    for name in list(os.environ):
        if name.startswith("PRODLINE_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    prodline.init(home=home)
    yield home
    prodline.init()
    _context.reset()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer | None]:
    """The session's PostgreSQL server, or None (with the reason recorded) if none can run."""
    try:
        server = PostgresServer()
        server.start()
    except PostgresUnavailable as exc:
        _pg_problem.append(str(exc))
        yield None
        return
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    server = request.getfixturevalue("postgres")
    if server is None:
        pytest.skip(f"PostgreSQL UNAVAILABLE, store test skipped: {_pg_problem[0]}")
    return server.create_database(f"test_{os.getpid()}_{next(_database_numbers)}")


@pytest.fixture
def use_store(store_url: str, tmp_path: Path) -> str:
    """Point prodline at a fresh store on each backend (artifacts in a temp folder)."""
    prodline.init(home=tmp_path / "home", store_url=store_url)
    return store_url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _pg_problem:
        terminalreporter.section("PostgreSQL tests SKIPPED", sep="!", red=True, bold=True)
        terminalreporter.write_line(f"No PostgreSQL server could be started: {_pg_problem[0]}")
        terminalreporter.write_line("Install Debian's 'postgresql' package and run `make test`.")
