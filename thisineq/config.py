"""Typed dataclass configs: the single source of every default, and of the CLI options made from them."""

from __future__ import annotations

import dataclasses
from typing import Any


def option(default: Any = dataclasses.MISSING, help: str = "", **field_kwargs) -> Any:  # noqa: A002 - argparse's word
    """A config field with its help text in the field's metadata (the CLI reads it from there).

    Mutable defaults are fine: lists, dicts and sets are copied for each instance.
    """
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata={"help": help}, **field_kwargs)
    return dataclasses.field(default=default, metadata={"help": help}, **field_kwargs)


def help_of(field: dataclasses.Field) -> str:
    """A field's help text ('' where it has none)."""
    return field.metadata.get("help", "")
