"""The one exception hierarchy of prodline.

Every error says what was wrong, where, and how to fix it. The CLI prints
``str(error)`` on one line and exits with code 2 for any ``ProdlineError``.
"""

from __future__ import annotations


class ProdlineError(Exception):
    """Base class of every error prodline raises on purpose."""

    exit_code = 2


class ConfigError(ProdlineError):
    """A configuration value (store URL, artifacts URL, home folder) is unusable."""


class StoreError(ProdlineError):
    """The metadata store could not be opened, migrated or written."""


class NotFoundError(ProdlineError):
    """A named thing (experiment, run, dataset, artifact, model) does not exist."""


class InvalidValueError(ProdlineError, ValueError):
    """A value passed by the caller has the wrong type, size or content."""


class ImmutableValueError(InvalidValueError):
    """A value that may be set only once (a run's param) was given a different value."""


class RunStateError(ProdlineError):
    """An operation needs a run in another state (for example, logging to an ended run)."""


class DataSourceError(ProdlineError):
    """A dataset source (file, SQL query) could not be read."""


class SchemaValidationError(ProdlineError):
    """A frame does not satisfy a schema; ``.report`` lists every violation."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class FilterSyntaxError(InvalidValueError):
    """A run search filter could not be parsed."""


class ArtifactError(ProdlineError):
    """An artifact could not be stored or read, or its content does not match its hash."""


class ReproduceError(ProdlineError):
    """A run could not be reproduced (no captured code, or the re-run failed)."""


class ModelPackageError(ProdlineError):
    """A model could not be packaged or a package could not be loaded."""


class UntrustedTypeError(ModelPackageError):
    """A model file names a type outside the trusted list; nothing was loaded."""


class TamperedPackageError(ModelPackageError):
    """A package file does not match the hash recorded when it was written."""


class ContractViolationError(ProdlineError):
    """Input does not satisfy a model's handover contract; ``.report`` lists every problem."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class MonitorError(ProdlineError):
    """Drift or performance monitoring could not run on the given data."""


class PipelineError(ProdlineError):
    """A pipeline could not be defined, run, or triggered."""
