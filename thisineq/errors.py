"""The exceptions that mean bad input from the user, as opposed to a bug.

Every error a user can cause and fix — a file in the wrong format, a setting that cannot work,
an argument out of range — is a `ThisIneqError`. The CLI and the app show its message in one
line; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class ThisIneqError(Exception):
    """Bad input from the user: a file, a setting or an argument that cannot be used, named in plain words."""


class ConfigError(ThisIneqError, ValueError):
    """A setting or argument that cannot work (a ValueError too, for callers that catch those)."""


class UnknownKeyError(ConfigError, KeyError):
    """A key that is not there, such as an unknown domain or a column a table lacks (a KeyError too)."""

    __str__ = Exception.__str__  # KeyError's would put the message in quotes


class MissingFileError(ThisIneqError, FileNotFoundError):
    """An input file or folder that does not exist (a FileNotFoundError too)."""


class StepError(ThisIneqError, RuntimeError):
    """A pipeline step that failed in a process of its own (its log, named in the message, says why)."""
