"""Argument types of the `difsched` command: each checks one value at parse time.

A bad value ends parsing with one line naming the flag, the value and what is
accepted (argparse puts ``argument --flag:`` before our message). Path types
only look: nothing is created, opened for writing or read. Each type keeps its
domain as attributes (``lo``, ``hi``, ``known``...), which the CLI fuzz tests
read to aim at values just outside it.
"""

from __future__ import annotations

import argparse
import math
import os
import re

_INT = re.compile(r"\s*[+-]?[0-9]+\s*")


def _fail(message: str):
    raise argparse.ArgumentTypeError(message)


def _range_text(lo, hi) -> str:
    if hi is None:
        return f">= {lo}"
    return f"in {lo}..{hi}"


class Int:
    """A decimal integer in [lo, hi] (hi None: no upper bound)."""

    def __init__(self, lo: int, hi: int | None = None, what: str = "the value", hint: str = ""):
        self.lo, self.hi, self.what, self.hint = lo, hi, what, hint

    def __call__(self, text: str) -> int:
        ok = _INT.fullmatch(text) is not None
        value = int(text) if ok else None
        if not ok or value < self.lo or (self.hi is not None and value > self.hi):
            hint = f" ({self.hint})" if self.hint else ""
            _fail(
                f"{self.what} must be an integer {_range_text(self.lo, self.hi)}, got {text!r}{hint}"
            )
        return value


def seed(what: str = "seed") -> Int:
    return Int(0, 2**32 - 1, what=what)


class Float:
    """A finite number in [lo, hi]; lo_open/hi_open exclude the bound."""

    def __init__(
        self, lo: float, hi: float | None = None, lo_open=False, hi_open=False, what="the value"
    ):
        self.lo, self.hi, self.lo_open, self.hi_open, self.what = lo, hi, lo_open, hi_open, what

    def accepts(self, value: float) -> bool:
        if not math.isfinite(value) or value < self.lo or (self.lo_open and value == self.lo):
            return False
        return self.hi is None or value < self.hi or (value == self.hi and not self.hi_open)

    def __call__(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not self.accepts(value):
            left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            where = (
                f"in {left}{self.lo}, {self.hi}{right}"
                if self.hi is not None
                else (f"> {self.lo}" if self.lo_open else f">= {self.lo}")
            )
            _fail(f"{self.what} must be a finite number {where}, got {text!r}")
        return value


class ConfigIndex:
    """An index of one of the config registries of SPEC §2 ("env", "dataset", ...)."""

    def __init__(self, kind: str):
        from difsched_jax import config

        self.kind = kind
        self.getter = {
            "sub-agent": config.get_subagent_config,
            "dataset": config.get_dataset_config,
            "env": config.get_env_config,
            "experiment": config.get_experiment_config,
        }[kind]
        registry = {"sub-agent": config.SUBAGENT_CONFIGS, "dataset": config.DATASET_CONFIGS,
                    "env": config.ENV_CONFIGS, "experiment": config.EXPERIMENT_CONFIGS}  # fmt: skip
        self.known = sorted(registry[kind])

    def __call__(self, text: str) -> int:
        index = int(text) if _INT.fullmatch(text) else text
        try:
            self.getter(index)
        except ValueError as e:
            _fail(str(e))
        return index


class Names:
    """Comma-separated names, each one of `known` (e.g. --flows thumb_fr,thumb_bk).
    Returns the text unchanged (the command splits it)."""

    def __init__(self, known, noun: str = "name"):
        self.known, self.noun = tuple(known), noun

    def __call__(self, text: str) -> str:
        names = [n.strip() for n in text.split(",") if n.strip()]
        if not names:
            _fail(f"names no {self.noun}, got {text!r}; known: {', '.join(self.known)}")
        for name in names:
            if name not in self.known:
                _fail(f"unknown {self.noun} {name!r}; known: {', '.join(self.known)}")
        return text


class HostPort:
    """HOST:PORT of a coordinator (port 1-65535)."""

    def __call__(self, text: str) -> str:
        host, sep, port = text.rpartition(":")
        if (
            not sep
            or not host.strip()
            or not port.isascii()
            or not port.isdigit()
            or not (0 < int(port) < 65536)
        ):
            _fail(f"coordinator must be HOST:PORT with a port in 1..65535, got {text!r}")
        return text


class PolicyList:
    """Comma-separated policy names (evaluate --policy), checked without loading any."""

    def __call__(self, text: str) -> str:
        from difsched_jax.evaluate.compare import parse_policy_names
        from difsched_jax.evaluate.registry import check_name

        try:
            for name in parse_policy_names(text):
                check_name(name)
        except ValueError as e:
            _fail(str(e))
        return text


def _access(path: str, mode: int) -> bool:
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def _nonempty(text: str, what: str) -> str:
    if not text.strip() or "\x00" in text:
        _fail(f"expected a path to {what}, got {text!r}")
    return text


class InDir:
    """An existing folder we can read (e.g. --traffic-dir, --dataset)."""

    def __init__(self, what: str = "a folder"):
        self.what = what

    def __call__(self, text: str) -> str:
        _nonempty(text, self.what)
        if not os.path.exists(text):
            _fail(f"{text}: no such folder (expected {self.what})")
        if not os.path.isdir(text):
            _fail(f"{text} is a file, not a folder (expected {self.what})")
        if not _access(text, os.R_OK | os.X_OK):
            _fail(f"{text}: folder not readable (permission denied; expected {self.what})")
        return text


class InFile:
    """An existing file we can read (writable too with `write=True`)."""

    def __init__(self, what: str = "a file", write: bool = False):
        self.what, self.write = what, write

    def __call__(self, text: str) -> str:
        _nonempty(text, self.what)
        if not os.path.exists(text):
            _fail(f"{text}: no such file (expected {self.what})")
        if os.path.isdir(text):
            _fail(f"{text} is a folder, not a file (expected {self.what})")
        mode = os.R_OK | (os.W_OK if self.write else 0)
        if not _access(text, mode):
            need = "readable and writable" if self.write else "readable"
            _fail(f"{text}: file not {need} (permission denied; expected {self.what})")
        return text


def _creatable(path: str, kind: str) -> None:
    """`path` does not exist: its nearest existing ancestor must be a folder we can write."""
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        _fail(f"{path}: cannot create the {kind}, {parent} is a file")
    if not _access(parent, os.W_OK | os.X_OK):
        _fail(f"{path}: cannot create the {kind}, {parent} is not writable (permission denied)")


class OutDir:
    """A folder to write into: an existing writable folder, or one we can create.
    `special` values (e.g. "none") pass unchanged."""

    def __init__(self, what: str = "an output folder", special: tuple[str, ...] = ()):
        self.what, self.special = what, special

    def __call__(self, text: str) -> str:
        if text in self.special:
            return text
        _nonempty(text, self.what)
        if os.path.exists(text):
            if not os.path.isdir(text):
                _fail(f"{text} is a file, not a folder (expected {self.what})")
            if not _access(text, os.W_OK | os.X_OK):
                _fail(f"{text}: folder not writable (permission denied; expected {self.what})")
        else:
            _creatable(text, "folder")
        return text


class OutFile:
    """A file to write: an existing writable file, or one we can create."""

    def __init__(self, what: str = "an output file"):
        self.what = what

    def __call__(self, text: str) -> str:
        _nonempty(text, self.what)
        if os.path.isdir(text):
            _fail(f"{text} is a folder, not a file (expected {self.what})")
        if os.path.exists(text):
            if not _access(text, os.W_OK):
                _fail(f"{text}: file not writable (permission denied; expected {self.what})")
        else:
            _creatable(text, "file")
        return text
