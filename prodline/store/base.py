"""The store's connection handling: one engine, short transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from prodline.errors import StoreError
from prodline.store.engine import WRITE_OPTION


class StoreBase:
    """Owns the engine. Subclasses add one family of operations each."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction."""
        with self._errors(), self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction: all or nothing, committed on exit."""
        with self._errors(), self.engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                yield connection

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise StoreError(
                f"The metadata store at {self.safe_url} failed: {exc.orig}. "
                "Check that it is reachable and writable."
            ) from exc
        except SQLAlchemyError as exc:
            if isinstance(exc.__cause__, StoreError):
                raise exc.__cause__ from None
            raise

    @property
    def safe_url(self) -> str:
        """The store URL with any password hidden."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
