"""Errors workbench raises; each message says what to do."""


class WorkbenchError(Exception):
    """Base class of workbench's own errors."""


class SourceError(WorkbenchError, ValueError):
    """A dataset source can't be read: missing, unknown format or malformed annotations."""


class PredictionsError(WorkbenchError, ValueError):
    """User-supplied predictions don't fit the dataset (classes, rows, values)."""


class EmbedderUnavailable(WorkbenchError, RuntimeError):
    """The requested embedding model can't be loaded here."""


class DistributedError(WorkbenchError, RuntimeError):
    """A distributed job can't run: ``dask[distributed]`` is missing or the scheduler is unreachable."""


class AppNotConnected(WorkbenchError, RuntimeError):
    """The FiftyOne App's server or its session client did not come up in time."""


class DatabaseUnavailable(WorkbenchError, RuntimeError):
    """FiftyOne's database can't be reached (still starting, stopped, or misconfigured)."""


class CheckConfigError(WorkbenchError, ValueError):
    """A check name no registered check has, or a check option that is unknown or out of range."""


class UnknownCheck(CheckConfigError):
    """A check name, or a check's option, that no registered check has."""


class CheckNotApplicable(WorkbenchError, ValueError):
    """Raised by a check that finds, once running, that the data can't support it (too few classes with
    enough examples, say): recorded as skipped with the message, like a missing requirement."""


class AnnotatorFieldError(WorkbenchError, ValueError):
    """Annotator fields (``--annotators``, ``--annotator-file``) that can't be compared: missing, not labels,
    of different tasks, fewer than two, or an annotation file that matches no image."""


class HandoffError(WorkbenchError, ValueError):
    """A hand-off for re-annotation that can't be made as asked: no such view, tag or run, no samples, a
    destination field that is not a new one, no server address or key, or a server that can't be reached."""
