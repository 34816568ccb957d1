"""The root of every error the project raises on purpose.

Each has a home where it is raised (rules that cannot be used, a configuration, the engine,
an API request, a batch run); all share this base, so a caller embedding the service can
catch the project's own failures apart from everything else.
"""


class DisputeGuideError(Exception):
    """An error of dispute-guide's own: its message says what is wrong and where."""


class EngineError(DisputeGuideError):
    """The engine failed on a case (a bug, reported as a 500).

    Raised by service/engine.py; defined here so that the HTTP edge can name it without
    loading the engine.
    """
