"""``--set KEY=JSON`` (train, train-drl): parsed at parse time, each key checked
against the dataclass fields it may set and each value against the field's type,
so a typo is one clear line that lists the accepted keys, not a TypeError later."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from dataclasses import dataclass

EXAMPLES = 'e.g. 3e-4, 200, true, "online", [128, 128]'


class SetItem:
    """argparse type: ``KEY=JSON`` -> (key, value)."""

    def __call__(self, text: str) -> tuple[str, object]:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise argparse.ArgumentTypeError(
                f"expected KEY=JSON (e.g. lr=3e-4 or hidden=[128,128]), got {text!r}"
            )
        try:
            parsed = json.loads(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{key}: the value {value!r} is not JSON ({EXAMPLES})"
            ) from None
        return key, parsed


def add_set_flag(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument(
        "--set", action="append", default=[], type=SetItem(), metavar="KEY=JSON", help=help
    )


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


KINDS = {  # kind -> (test, description)
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (_is_int, "an integer"),
    "float": (_is_number, "a finite number"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "int list": (lambda v: isinstance(v, list) and all(map(_is_int, v)), "a list of integers"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "dict": (lambda v: isinstance(v, dict), "an object"),
}


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # a key of KINDS
    optional: bool  # null accepted

    def check(self, value) -> None:
        test, what = KINDS[self.kind]
        if (value is None and self.optional) or test(value):
            return
        what += " or null" if self.optional else ""
        raise ValueError(f"--set {self.name}={json.dumps(value)}: expected {what}")


def _kind(default, annotation: str) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, (int, float, str)):
        return {int: "int", float: "float", str: "str"}[type(default)]
    if isinstance(default, (tuple, list)):
        return "int list" if all(map(_is_int, default)) or "int" in annotation else "list"
    if isinstance(default, dict):
        return "dict"
    for name in ("bool", "int", "float", "str"):  # default None: "int | None" ...
        if annotation.startswith(name):
            return name
    raise TypeError(f"no --set kind for a default {default!r} ({annotation})")


def settings_of(cls, skip=()) -> dict[str, Setting]:
    """The fields of a dataclass with a default, as settable keys (minus `skip`)."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            continue  # set by the command from its flags or the config
        annotation = str(f.type)
        kind = _kind(default, annotation)
        out[f.name] = Setting(f.name, kind, default is None or "None" in annotation)
    return out


def check_sets(items, accepted: dict[str, Setting], by_flag: dict[str, str] | None = None) -> dict:
    """[(key, value)] -> {key: value}, each key accepted and each value of its kind."""
    out = {}
    for key, value in items:
        if by_flag and key in by_flag:
            raise ValueError(f"--set {key}: given by {by_flag[key]}, not by --set")
        if key not in accepted:
            raise ValueError(
                f"--set {key}: unknown setting; accepted keys: {', '.join(sorted(accepted))}"
            )
        accepted[key].check(value)
        out[key] = value
    return out


def with_sets(error: Exception, items) -> str:
    """A config's error, naming the --set keys given (the value may be one of them)."""
    keys = ", ".join(key for key, _ in items)
    return f"{error} (settings given with --set: {keys})" if keys else str(error)
