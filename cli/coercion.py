"""Option values converted without Pydantic, for the plain types this command line uses.

Typer (0.29) converts every option value through a Pydantic ``TypeAdapter``,
built on first use: about 0.15 s of every command (Pydantic's import and one
schema per option), longer than counting 100,000 records takes. The options
here are plain ``str``, ``int``, ``float``, ``bool``, ``Path`` and lists of them, some
with a minimum or maximum; :func:`light` gives those a converter with the
same results and messages, and leaves anything else to Typer.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

_PLAIN = (str, int, float, bool, Path)
_TRUE, _FALSE = {"1", "true", "t", "yes", "y", "on"}, {"0", "false", "f", "no", "n", "off"}
#: Path settings under which a path is only ``Path(text)``; anything else stays with Typer.
_PATH_DEFAULTS = {"exists": False, "file_okay": True, "dir_okay": True, "writable": False, "readable": True,
                  "resolve_path": False, "allow_dash": False, "path_type": None}  # fmt: skip
_NAMES = {int: "integer", float: "number"}


def _plain(annotation: Any) -> tuple[type, bool] | None:
    """``(type, is_list)`` for ``T``, ``T | None`` and ``list[T]`` of a plain ``T``; else None."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) != 1:
            return None
        annotation = rest[0]
    if typing.get_origin(annotation) is list:
        inner = _plain(typing.get_args(annotation)[0])
        return (inner[0], True) if inner is not None and not inner[1] else None
    return (annotation, False) if annotation in _PLAIN else None


@dataclass(frozen=True)
class _Convert:
    """Converts one option's values: the type, then its bounds."""

    kind: type
    is_list: bool
    low: float | None
    high: float | None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return () if self.is_list else None
        if self.is_list:
            if isinstance(value, str):
                raise typer.BadParameter("Value must be an iterable.", ctx=ctx, param=param)
            return [self.one(v, param, ctx) for v in value]
        return self.one(value, param, ctx)

    def one(self, value: Any, param: Any, ctx: Any) -> Any:
        if self.kind is bool:
            return self._flag(value, param, ctx)
        if self.kind in (int, float):
            value = self._number(value, param, ctx)
        elif not isinstance(value, self.kind):
            value = self.kind(value)
        if self.low is not None and value < self.low:
            raise typer.BadParameter(f"Input should be greater than or equal to {self.low}", ctx, param)
        if self.high is not None and value > self.high:
            raise typer.BadParameter(f"Input should be less than or equal to {self.high}", ctx, param)
        return value

    def _flag(self, value: Any, param: Any, ctx: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise typer.BadParameter("Input should be a valid boolean", ctx, param)

    def _number(self, value: Any, param: Any, ctx: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise typer.BadParameter(f"Input should be a valid {_NAMES[self.kind]}", ctx=ctx, param=param)
        if isinstance(value, self.kind):
            return value
        try:
            number = float(value) if self.kind is float else int(str(value).strip())
        except ValueError:
            raise typer.BadParameter(
                f"Input should be a valid {_NAMES[self.kind]}, unable to parse string as "
                f"{'a number' if self.kind is float else 'an integer'}",
                ctx=ctx,
                param=param,
            ) from None
        return number


def _converter(param: Any) -> _Convert | None:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or descriptor.file_annotation is not None:
        return None
    info = descriptor.parameter_info
    if getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None:
        return None
    if getattr(info, "clamp", False) or getattr(info, "min_open", False) or getattr(info, "max_open", False):
        return None
    plain = _plain(descriptor.annotation)
    if plain is None:
        return None
    if plain[0] is Path and any(getattr(info, k, v) != v for k, v in _PATH_DEFAULTS.items()):
        return None
    return _Convert(plain[0], plain[1], getattr(info, "min", None), getattr(info, "max", None))


def _lighten(param: Any) -> None:
    if getattr(param, "_runtime_param", "absent") is None:  # Typer builds it on first use
        converter = _converter(param)
        if converter is not None:
            param._runtime_param = converter


def light(command: Any) -> Any:
    """Give every plain option of ``command`` and its subcommands the light converter; returns it.

    The ``--help`` option is made afresh for each context, so it is lightened as it is made.
    """
    for param in getattr(command, "params", ()):
        _lighten(param)
    make_help = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = make_help(ctx)
        if option is not None:
            _lighten(option)
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        light(sub)
    return command
