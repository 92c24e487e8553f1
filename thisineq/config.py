"""Typed dataclass configs: the single source of every default, and of the CLI options and JSON config files made from them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any

from thisineq.errors import ConfigError


def option(default: Any = dataclasses.MISSING, help: str = "", *, choices=None, **field_kwargs) -> Any:  # noqa: A002 - argparse's word
    """A config field with its help text (and allowed values, if few) in the field's metadata, where the CLI reads them.

    Mutable defaults are fine: lists, dicts and sets are copied for each instance.
    """
    metadata = {"help": help, **({"choices": tuple(choices)} if choices is not None else {})}
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=metadata, **field_kwargs)
    return dataclasses.field(default=default, metadata=metadata, **field_kwargs)


def help_of(field: dataclasses.Field) -> str:
    """A field's help text ('' where it has none)."""
    return field.metadata.get("help", "")


# --- command-line options ---------------------------------------------------------------------------


def add_options(
    parser: argparse.ArgumentParser,
    config_class: type,
    *,
    exclude: tuple[str, ...] = (),
    prefix: str = "",
    flags: dict[str, str] | None = None,
    overrides: bool = False,
) -> None:
    """One `--field-name` option per field of a dataclass config, typed by its annotation, with its default and help.

    bool → `--flag/--no-flag`; int, float, str → one value; tuple[X, ...] → one or more values,
    tuple[X, X] → exactly two; `X | None` → X (None is the default's to give); `choices` from
    the field's metadata. Fields without a default are required.

    exclude: fields left to the caller (nested configs and dicts have no one-option form).
    prefix: put before every option and destination name, for two configs whose fields share a name.
    flags: field → option name (without dashes) where the command line's name differs from the field's.
    overrides: options default to "not given" (absent from the parsed arguments), for settings that
    override a config read from elsewhere (`option_values` returns only those given).
    """
    fields = {f.name: f for f in dataclasses.fields(config_class) if f.init}
    named = set(exclude) | set(flags or {})
    if named - set(fields):
        raise TypeError(f"{config_class.__name__} has no fields {sorted(named - set(fields))}")
    hints = typing.get_type_hints(config_class)
    for name, field in fields.items():
        if name in exclude:
            continue
        flag = (prefix + (flags or {}).get(name, name)).replace("_", "-")
        kwargs = _option_kwargs(field, hints[name], overrides)
        if kwargs.get("action") is not argparse.BooleanOptionalAction and "choices" not in kwargs:
            kwargs["metavar"] = flag.upper().replace("-", "_")
        flag = "--" + flag
        parser.add_argument(flag, dest=_dest(prefix, name), **kwargs)
        if kwargs.get("action") is argparse.BooleanOptionalAction and not overrides:
            # Set on the parser, not the action: Python 3.10's BooleanOptionalAction would print it a second time.
            parser.set_defaults(**{_dest(prefix, name): _default(field)})


def option_values(config_class: type, args: argparse.Namespace, *, prefix: str = "") -> dict[str, Any]:
    """The fields of `config_class` that the parsed `args` hold (with `overrides`, only those given)."""
    return {
        f.name: getattr(args, _dest(prefix, f.name))
        for f in dataclasses.fields(config_class)
        if f.init and hasattr(args, _dest(prefix, f.name))
    }


def from_options(config_class: type, args: argparse.Namespace, *, prefix: str = "", **overrides) -> Any:
    """A config from parsed options (see `add_options`); `overrides` give or replace fields."""
    return config_class(**{**option_values(config_class, args, prefix=prefix), **overrides})


class _StoreTuple(argparse.Action):
    """Store a field's several values as the tuple its annotation asks for."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, tuple(values))


def _dest(prefix: str, name: str) -> str:
    return (prefix + name).replace("-", "_")


def _default(field: dataclasses.Field) -> Any:
    """A field's default value (MISSING where it has none)."""
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _option_kwargs(field: dataclasses.Field, hint: Any, overrides: bool) -> dict[str, Any]:
    """add_argument's keywords for one field."""
    kind, nargs, choices = _option_type(field.name, hint)
    choices = field.metadata.get("choices", choices)
    default = _default(field)
    text = help_of(field).replace("%", "%%")  # argparse %-formats help text
    if default is not dataclasses.MISSING and default is not None and not overrides:
        text = f"{text} (default: {_shown(default)})".strip()
    kwargs: dict[str, Any] = {"help": text}
    if kind is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    else:
        kwargs.update(type=kind, **({"nargs": nargs, "action": _StoreTuple} if nargs else {}))
        kwargs.update({"choices": choices} if choices else {})
    if overrides:
        kwargs["default"] = argparse.SUPPRESS
    elif default is dataclasses.MISSING:
        kwargs["required"] = True
    elif kind is not bool:
        kwargs["default"] = default
    return kwargs


def _option_type(name: str, hint: Any) -> tuple[type, int | str | None, tuple | None]:
    """(type of one value, how many values (None: one), allowed values) for a field's annotation."""
    kinds = [k for k in _members(hint) if k is not type(None)]
    for kind in kinds:
        args = typing.get_args(kind)
        if typing.get_origin(kind) is tuple and args and args[0] in (int, float, str):
            item, variadic = args[0], args[1:] == (Ellipsis,)
            if all(a in (item, Ellipsis) for a in args) and all(k in (kind, item) for k in kinds):
                return item, "+" if variadic else len(args), None
    if len(kinds) == 1 and kinds[0] in (bool, int, float, str):
        return kinds[0], None, None
    if len(kinds) == 1 and typing.get_origin(kinds[0]) is typing.Literal:
        values = typing.get_args(kinds[0])
        return type(values[0]), None, values
    raise TypeError(f"field {name} of type {hint} has no command-line form: exclude it and add its option by hand")


def command_options(config: Any) -> list[str]:
    """The command-line options (see `add_options`) that turn the default config of its class into `config`: what a
    record of a run prints as the command that repeats it."""
    options = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if not field.init or value == _default(field):
            continue
        flag = "--" + field.name.replace("_", "-")
        if value is None or isinstance(value, (dict, list, set)) or dataclasses.is_dataclass(value):
            raise ValueError(f"{field.name} = {value!r} has no command-line form: give it in a JSON config file")
        if isinstance(value, bool):
            options.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple):
            options += [flag, *map(str, value)]
        else:
            options += [flag, str(value)]
    return options


def _shown(value: Any) -> str:
    """A default as it would be typed on the command line."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return " ".join(map(str, value))
    return repr(value) if value == "" else str(value)


def _members(hint: Any) -> tuple:
    """The types a union admits (a lone type: itself)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return typing.get_args(hint)
    return (hint,)


# --- JSON config files ------------------------------------------------------------------------------


def load_config(config_class: type, path: str | os.PathLike) -> Any:
    """A config from a JSON object of its fields (fields left out keep their defaults), strictly checked.

    Lists become tuples and whole numbers floats where the field's annotation says so; nothing else
    is converted. A file that cannot be read, is not JSON, names an unknown field, gives a value of
    the wrong type or a setting the config refuses is a ConfigError naming the file and the field.
    A missing file is a FileNotFoundError.
    """
    import dacite

    path = Path(path)
    values = _read_json_object(path, config_class)
    unknown = _unknown_fields(config_class, values)
    if unknown:
        where, owner, names = unknown
        known = sorted(f.name for f in dataclasses.fields(owner) if f.init)
        raise ConfigError(f"{path}: unknown {owner.__name__} fields {names}{where}; known: {known}")
    try:
        return dacite.from_dict(config_class, values, dacite.Config(strict=True, type_hooks=_type_hooks(config_class)))
    except dacite.WrongTypeError as error:
        raise ConfigError(f"{path}: {_wrong_type(error.field_path, error.field_type, _value_at(values, error))}") from None
    except dacite.MissingValueError as error:
        raise ConfigError(f"{path}: {error.field_path} is missing, and it has no default") from None
    except ConfigError as error:  # a setting the config's own checks refuse
        raise ConfigError(f"{path}: {error}") from None


def _read_json_object(path: Path, config_class: type) -> dict:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path} is not valid JSON: {error}") from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path} must hold a JSON object of {config_class.__name__} fields, not a {type(values).__name__}")
    return values


def _unknown_fields(config_class: type, values: dict, where: str = "") -> tuple[str, type, list[str]] | None:
    """(where, config class, names) of the first object in `values` with fields its config lacks; None if none."""
    fields = {f.name: f for f in dataclasses.fields(config_class) if f.init}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        return (f" in {where}" if where else "", config_class, unknown)
    hints = typing.get_type_hints(config_class)
    for name, value in values.items():
        nested = [k for k in _members(hints[name]) if dataclasses.is_dataclass(k)]
        if nested and isinstance(value, dict):
            found = _unknown_fields(nested[0], value, f"{where}.{name}" if where else name)
            if found:
                return found
    return None


class _Refused:
    """What a type hook makes of a value the field must not take (a bool for a number), so that the type check fails."""

    def __init__(self, value):
        self.value = value


def _type_hooks(config_class: type) -> dict:
    """dacite's conversions: JSON lists to tuples, whole numbers to floats, digit-string keys to int keys; bools are no numbers."""
    hooks: dict = {
        int: lambda v: _Refused(v) if isinstance(v, bool) else v,
        float: lambda v: _Refused(v) if isinstance(v, bool) else float(v) if isinstance(v, int) else v,
    }
    for hint in _annotations(config_class):
        origin = typing.get_origin(hint)
        if origin is tuple:
            hooks[hint] = lambda v: tuple(v) if isinstance(v, list) else v
        elif origin is dict and typing.get_args(hint)[:1] == (int,):
            hooks[hint] = lambda v: {_int_key(k): x for k, x in v.items()} if isinstance(v, dict) else v
    return hooks


def _int_key(key):
    return int(key) if isinstance(key, str) and key.lstrip("-").isdigit() else key


def _annotations(config_class: type) -> list:
    """Every type in a config's annotations, nested configs' and union members included."""
    found = []
    for hint in typing.get_type_hints(config_class).values():
        for kind in _members(hint):
            found.append(kind)
            found += _annotations(kind) if dataclasses.is_dataclass(kind) else []
    return found


def _value_at(values: dict, error) -> Any:
    """The value the file gave at a field path like 'model.channels' (dacite's error holds it converted)."""
    value = values
    for name in error.field_path.split("."):
        if not isinstance(value, dict) or name not in value:
            return error.value
        value = value[name]
    return value


def _wrong_type(name: str, hint: Any, value: Any) -> str:
    """'name must be T, got V', about the first wrong item where the value is a list or an object."""
    if value is None:
        return f"{name} cannot be null"
    for kind in _members(hint):
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin is tuple and isinstance(value, list):
            items = [args[0]] * len(value) if args[1:] == (Ellipsis,) else list(args)
            if len(items) != len(value):
                return f"{name} must be a list of {len(items)} values, got {len(value)}: {value!r}"
            wrong = [(i, v, t) for i, (v, t) in enumerate(zip(value, items, strict=True)) if not _fits(v, t)]
            if wrong:
                return _wrong_type(f"{name}[{wrong[0][0]}]", wrong[0][2], wrong[0][1])
        if origin is dict and isinstance(value, dict) and args:
            for key, item in value.items():
                if not _fits(_int_key(key) if args[0] is int else key, args[0]):
                    return f"{name} has the key {key!r}, which is not {_type_words(args[0])}"
                if not _fits(item, args[1]):
                    return _wrong_type(f"{name}[{key!r}]", args[1], item)
    return f"{name} must be {_type_words(hint)}, got {value!r}"


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value can be a field of type `hint` (as the type hooks convert it)."""
    for kind in _members(hint):
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if kind is Any or (value is None and kind is type(None)):
            return True
        if kind in (int, float) and isinstance(value, int if kind is int else (int, float)) and not isinstance(value, bool):
            return True
        if kind in (str, bool) and isinstance(value, kind):
            return True
        if origin is tuple and isinstance(value, list):
            items = [args[0]] * len(value) if args[1:] == (Ellipsis,) else list(args)
            if len(items) == len(value) and all(_fits(v, t) for v, t in zip(value, items, strict=True)):
                return True
        if (origin is dict or dataclasses.is_dataclass(kind)) and isinstance(value, dict):
            return True
        if origin is typing.Literal and value in args:
            return True
    return False


def _type_words(hint: Any) -> str:
    """A type in plain words: 'int', 'a list', 'an object', 'null', joined by 'or'."""

    def word(kind) -> str:
        origin = typing.get_origin(kind)
        if kind is type(None):
            return "null"
        if origin is tuple:
            return "a list"
        if origin is dict or dataclasses.is_dataclass(kind):
            return "an object"
        if origin is typing.Literal:
            return "one of " + ", ".join(map(repr, typing.get_args(kind)))
        return getattr(kind, "__name__", str(kind))

    return " or ".join(word(k) for k in _members(hint))
