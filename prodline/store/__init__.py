"""The metadata store: the only package that talks SQL.

SQLAlchemy 2 Core tables, Alembic migrations applied on first use, SQLite (WAL) by
default and PostgreSQL by URL. Open one with :func:`prodline.store.engine.open_store`
or let :mod:`prodline._context` open the configured one.
"""
