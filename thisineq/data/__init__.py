"""Data layer: IoD2019 deciles, LSOA boundaries, photo collections and the synthetic city."""

from thisineq.errors import ConfigError, ThisIneqError


class UnknownKeyError(ConfigError, KeyError):
    """A key that is not there, such as an unknown domain or a column a table lacks (a KeyError too)."""

    __str__ = Exception.__str__  # KeyError's would put the message in quotes


class MissingFileError(ThisIneqError, FileNotFoundError):
    """An input file or folder that does not exist (a FileNotFoundError too)."""
