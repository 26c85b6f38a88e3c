"""The `difsched` command. Subcommands parse arguments and call library functions."""

from __future__ import annotations

import sys
import warnings

from difsched_jax.cli import (
    bench,
    build_agent,
    convert_trace,
    evaluate,
    gen_dataset,
    pipeline,
    synth_traffic,
    train,
    train_drl,
)
from difsched_jax.cli.common import EXIT_USAGE, Parser, UsageError, execute, interrupted
from difsched_jax.faults import arm_compile_kill
from difsched_jax.interrupts import exit_on_signal

# one module per subcommand, in the order `difsched --help` lists them
COMMANDS = (
    gen_dataset,
    evaluate,
    build_agent,
    convert_trace,
    synth_traffic,
    train,
    train_drl,
    pipeline,
    bench,
)


def build_parser() -> Parser:
    parser = Parser(prog="difsched", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add(sub)
    parser.commands = sub.choices  # name -> its parser
    return parser


def prog(parsed: list) -> str:
    return f"difsched {parsed[0].command}" if parsed else "difsched"


def main(argv: list[str] | None = None) -> int:
    """Ctrl-C or SIGTERM at any moment: one line saying what was saved, exit 130/143."""
    parsed = []
    with (
        exit_on_signal(lambda: interrupted(parsed[0] if parsed else None)),
        warnings.catch_warnings(),
    ):
        warnings.showwarning = lambda message, *_, **__: print(
            f"{prog(parsed)}: warning: {message}", file=sys.stderr
        )
        arm_compile_kill()  # the kill matrix's point inside a compile (one lookup when unset)
        parser = build_parser()
        try:
            args, extra = parser.parse_known_args(argv)
            if extra:
                command = parser.commands[args.command]
                command.error(
                    f"unrecognized arguments: {' '.join(extra)}; accepted: "
                    f"{', '.join(command.accepted_flags())}"
                )
        except UsageError as e:
            print(e, file=sys.stderr)
            return EXIT_USAGE
        parsed.append(args)
        return execute(args)


__all__ = ["COMMANDS", "build_parser", "main"]
