"""`difsched convert-trace`: a reference trace pickle -> .npz (restricted unpickler)."""

from __future__ import annotations

from difsched_jax.cli.types import InFile, Int, OutFile


def add(sub) -> None:
    p = sub.add_parser(
        "convert-trace", help="convert a reference trace pickle to .npz (restricted unpickler)"
    )
    p.add_argument(
        "src",
        type=InFile("the reference's trace pickle"),
        help="the reference's pickle: a dict of NumPy arrays",
    )
    p.add_argument("dst", type=OutFile("the .npz to write"), help="the .npz to write")
    p.add_argument(
        "--window",
        type=Int(1, what="window length"),
        default=200,
        help="window length L (counts <= L)",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    from difsched_jax.traffic.convert import convert_pickle_trace

    trace = convert_pickle_trace(args.src, args.dst, args.window)
    print(
        f"wrote {args.dst}: {trace.train_actual.shape[0]} train + "
        f"{trace.test_actual.shape[0]} test windows, L = {trace.window}"
    )
    return 0
