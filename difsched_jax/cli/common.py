"""What every subcommand shares: the parser, the checks that run before any work,
and one place that turns an error into one line on stderr and an exit status.

A subcommand module has ``add(sub)`` (its parser, with ``run`` and optionally
``check`` as defaults) and ``run(args) -> int``. `execute` calls, in order:
the flags required unless ``--resume`` (`require_unless_resume`), ``check(args)``
(cheap: no trace loaded, nothing compiled or written) and ``run(args)``.
Bad input, found by the argument types at parse time or by a check, gives
exit status 2 and one line ``difsched CMD: error: ...``.
"""

from __future__ import annotations

import argparse
import sys

EXIT_USAGE = 2  # bad flags or values, a refused folder (nothing was done)
EXIT_OS = 1  # the system refused: a full disk, a permission changed mid-run


class UsageError(Exception):
    """A parse error, already formatted as ``PROG: error: MESSAGE``."""


class Parser(argparse.ArgumentParser):
    """argparse whose errors raise UsageError (one line, no usage block, no exit)."""

    def error(self, message: str):
        commands = getattr(self, "commands", None)
        if commands and "required: command" in message:
            message += f" (one of {', '.join(commands)})"
        elif "ignored explicit argument" in message:
            message += " (a switch: give it without a value)"
        raise UsageError(f"{self.prog}: error: {one_line(message)}")

    def _get_values(self, action, arg_strings):
        # Python < 3.12 drops a value of exactly "--" (`--slices=--`) and stores [] unchecked
        if action.option_strings and arg_strings == ["--"] and action.nargs in (None, "?", "+"):
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return [value] if action.nargs == "+" else value
        return super()._get_values(action, arg_strings)

    def accepted_flags(self) -> list[str]:
        return [
            o
            for a in self._actions
            for o in a.option_strings
            if o.startswith("--") and o != "--help"
        ]


def one_line(text: str) -> str:
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def report(prog: str, error: BaseException | str, code: int = EXIT_USAGE) -> int:
    print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
    return code


def execute(args: argparse.Namespace) -> int:
    """Checks, then the command; ValueError (bad input) -> 2, OSError -> 1, one line each."""
    prog = f"difsched {args.command}"
    try:
        _check_needs(args)
        if getattr(args, "check", None) is not None:
            args.check(args)
        return args.run(args)
    except ValueError as e:
        return report(prog, e)
    except OSError as e:
        return report(prog, e, EXIT_OS)


def interrupted(args: argparse.Namespace | None) -> tuple[str, str]:
    """(prog, note) for the line a signal prints: the command's own `interrupt_note(args)`,
    or what holds for every command (outputs are written whole)."""
    if args is None:
        return "difsched", "nothing was written"
    note = getattr(args, "interrupt_note", None)
    if note is not None:
        return f"difsched {args.command}", note(args)
    return f"difsched {args.command}", (
        "outputs are written whole, so each is complete or absent; run the same command again"
    )


def _has_files(folder) -> bool:
    import os

    return bool(folder) and os.path.isdir(folder) and bool(os.listdir(folder))


def resume_note(command: str, kept: str):
    """interrupt_note of a command that continues with `--resume --out OUT`; `kept` says
    what the folder keeps."""

    def note(args) -> str:
        if not _has_files(args.out):
            return f"nothing was written to {args.out} yet"
        return (
            f"{args.out} keeps {kept}: continue with `difsched {command} --resume --out {args.out}`"
        )

    return note


def rerun_note(kept: str, how: str = "run the same command again"):
    """interrupt_note of a command that continues when it is run again (`how`)."""

    def note(args) -> str:
        if not _has_files(args.out):
            return f"nothing was written to {args.out} yet"
        return f"{args.out} keeps {kept}: {how} to continue"

    return note


def validated(kind, value, flag: str):
    """Check a value the command computed (e.g. a default --out) with an argument type."""
    try:
        return kind(value)
    except argparse.ArgumentTypeError as e:
        raise ValueError(f"{flag} {value}: {e}") from None


def flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def require_unless_resume(parser: argparse.ArgumentParser, *dests: str) -> None:
    """These flags are required unless --resume (which reads them from the run folder)."""
    parser.set_defaults(needs=dests)


def _check_needs(args) -> None:
    needs = getattr(args, "needs", ())
    if needs and not args.resume and any(getattr(args, d) is None for d in needs):
        names = " and ".join(flag(d) for d in needs)
        raise ValueError(f"{names} are required (unless --resume)")


def check_resume_out(args) -> None:
    if args.resume and args.out is None:
        raise ValueError("--resume needs --out (the run folder to continue)")


def check_resume(args, run, names: tuple[str, ...]) -> None:
    """--resume continues the run as saved: a flag given with another value is an error."""
    for name in names:
        given = getattr(args, name)
        if given is not None and given != getattr(run, name):
            raise ValueError(
                f"--resume continues {args.out} as saved ({name} = {getattr(run, name)}), "
                f"got {flag(name)} {given}"
            )


def saved_run(args, load, names: tuple[str, ...], command: str):
    """The run config saved in --out (`load(out)`), for --resume: one line if it is
    damaged, and `check_resume` on the flags `names`."""
    from difsched_jax.files import DamagedFile

    try:
        run = load(args.out)
    except DamagedFile:
        raise
    except (TypeError, ValueError) as e:  # fields edited
        raise ValueError(f"{args.out}/config.json is not a {command} run's settings: {e}") from None
    check_resume(args, run, names)
    return run


def train_in_folder(args, train) -> int:
    """`train(run_config, out, resume, progress)` holding --out; prints the summary."""
    import json

    from difsched_jax.locking import hold_folder

    with hold_folder(args.out):
        summary = train(
            args.run_config, args.out, resume=args.resume, progress=not args.no_progress
        )
    print(json.dumps(summary, indent=2))
    print(f"run folder: {args.out}")
    return 0


def add_allocation(p: argparse.ArgumentParser, default: str | None = "integer", note: str = ""):
    p.add_argument(
        "--allocation",
        choices=("integer", "reference"),
        default=default,
        help="allocation semantics: integer executes whole resource blocks, sum <= B "
        "(floor, then the rounded total's remaining blocks to the largest fractions); "
        "reference keeps the reference's real allocations, whose channel grid rounds up "
        f"(12.0001 blocks buy 13), to reproduce its figures{note}",
    )


def add_objective(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--objective",
        choices=("loss", "worst_user"),
        default="loss",
        help="what a window costs: loss, the packet-loss rate (default); worst_user, the most "
        "packets one user loses / L (its yardstick: --policy worst-user-best)",
    )


def add_traffic_dir(p: argparse.ArgumentParser) -> None:
    from difsched_jax.cli.types import InDir

    p.add_argument(
        "--traffic-dir",
        type=InDir("a folder of {flow}_window{L}.npz traces"),
        default=None,
        help="folder with {flow}_window{L}.npz (default: synthetic)",
    )
