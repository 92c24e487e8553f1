"""The exceptions that mean bad input from the user, as opposed to a bug."""

from __future__ import annotations


def _user_errors() -> tuple[type[BaseException], ...]:
    from thisineq.data.dataset import DatasetError
    from thisineq.data.geo import BoundaryFormatError
    from thisineq.data.imd import IoDFormatError
    from thisineq.data.photos import PhotoCollectionError
    from thisineq.metrics.lpips import LPIPSWeightsError

    return (
        IoDFormatError,
        BoundaryFormatError,
        PhotoCollectionError,
        DatasetError,
        LPIPSWeightsError,
        FileNotFoundError,
        ValueError,
        KeyError,
    )


USER_ERRORS = _user_errors()
