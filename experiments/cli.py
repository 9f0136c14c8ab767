"""An experiment's command line: its frozen-dataclass config, one ``--option`` per field.

A field declares its default and help with :func:`option`; :func:`parse_config` gives every field
a plain ``argparse`` option whose converter comes from the field's annotation, read exactly with
``typing.get_type_hints``: ``int``, ``float``, ``str``; ``bool`` (``--name / --no-name``);
``tuple[T, ...]`` (comma-separated, ``--seeds 0,1,2``); ``T | None``. Any other annotation is a
``TypeError`` naming the field.

    @dataclasses.dataclass(frozen=True)
    class Config:
        learning_rate: float = option(0.005, "step size")
        quick: bool = option(False, "a smoke test")

        QUICK: ClassVar[dict] = {"num_iterations": 20}   # --quick's values
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing

METAVARS = {int: "INT", float: "FLOAT", str: "TEXT"}  # the scalar types a field may have


def option(default, help: str, choices=None):
    """A config field with its command-line help: ``lr: float = option(0.005, "step size")``.

    ``choices``: the allowed values (of each item, for a tuple field); others are a usage error.
    """
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


def comma_separated(convert, choices=None):
    """An argparse converter: ``"0.01,0.001"`` -> ``(0.01, 0.001)``, each item ``convert``-ed
    and, given ``choices``, one of them; empty lists are refused."""

    def parse(text: str) -> tuple:
        try:
            items = tuple(convert(s.strip()) for s in text.split(",") if s.strip())
        except ValueError as e:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {convert.__name__} values, got {text!r}") from e
        if not items:
            raise argparse.ArgumentTypeError(f"expected at least one value, got {text!r}")
        bad = [x for x in items if choices is not None and x not in choices]
        if bad:
            raise argparse.ArgumentTypeError(
                f"got {text!r}; expected a comma-separated subset of "
                f"{','.join(map(str, choices))}")
        return items

    return parse


def _show(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def add_field(parser: argparse.ArgumentParser, field: dataclasses.Field, hint, quick: dict):
    """Add ``field`` (annotated ``hint``) to ``parser`` as ``--field-name``."""
    shown = [] if field.default is None else [f"default: {_show(field.default)}"]
    if field.name in quick:
        shown.append(f"with --quick: {_show(quick[field.name])}")
    kwargs = {"dest": field.name, "default": argparse.SUPPRESS,
              "help": field.metadata.get("help", "") + (f" ({'; '.join(shown)})" if shown else "")}
    flag = "--" + field.name.replace("_", "-")
    choices = field.metadata.get("choices")
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # T | None: T
        hint, *rest = [a for a in typing.get_args(hint) if a is not type(None)]
        if rest:
            raise TypeError(f"{field.name}: expected T | None with one type T, got {hint}")
    if hint is bool:
        parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
    elif typing.get_origin(hint) is tuple and typing.get_args(hint)[1:] == (Ellipsis,) \
            and typing.get_args(hint)[0] in METAVARS:
        parser.add_argument(flag, type=comma_separated(typing.get_args(hint)[0], choices),
                            metavar="A,B,...", **kwargs)
    elif hint in METAVARS:
        parser.add_argument(flag, type=hint, choices=choices,
                            metavar=None if choices else METAVARS[hint], **kwargs)
    else:
        raise TypeError(f"{field.name}: expected an annotation int, float, str, bool, "
                        f"tuple[T, ...] or T | None, got {hint}")


def parse_config(cls, argv=None, *, doc: str | None = None, prog: str | None = None):
    """Parse ``argv`` into the frozen dataclass ``cls``, one ``--option`` per field.

    ``my_field`` becomes ``--my-field``. With ``--quick`` (a ``quick`` field), the values in the
    class attribute ``QUICK`` (a dict) replace the defaults, while options given explicitly on the
    command line still win. A ``ValueError`` from the class's ``__post_init__`` (its own checks of
    the values) becomes a usage error (``SystemExit``), as a bad ``--option`` does.
    """
    parser = argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    quick = getattr(cls, "QUICK", {})
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        add_field(parser, field, hints[field.name], quick)
    given = vars(parser.parse_args(argv))
    values = {f.name: f.default for f in dataclasses.fields(cls)}
    if given.get("quick", values.get("quick", False)):
        values.update(quick)
    values.update(given)
    try:
        return cls(**values)
    except ValueError as e:
        parser.error(str(e))
