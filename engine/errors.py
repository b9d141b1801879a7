"""Errors that users can act on.

Every problem with the user's input or parameters is raised as a
:class:`ShowcaseError` whose message is one line saying what is wrong and what
to do. The CLI prints that line and exits with status 2; it never prints a
traceback (tracebacks can carry sensitive values in their locals).
"""


class ShowcaseError(ValueError):
    """A problem with the input or parameters, explained in one line."""


class InputError(ShowcaseError):
    """The input data cannot be read or is not usable."""


class ParameterError(ShowcaseError):
    """A parameter is out of range or inconsistent with the others."""


class NoRecords(InputError):
    """A table holds a header and no record: an error for sensitive input, a fact for a release."""
