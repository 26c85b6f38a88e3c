"""Stage 1: solve the MDP sub-agents (SPEC §3) on the train split of each flow.

    python experiments/01_build_agents.py [--traffic-dir DIR] [--out runs/experiments]

Sub-agent 0 serves thumb_fr, 1 serves thumb_bk (4 users, B = 60, 5 levels).
"""

from __future__ import annotations

import _common

from difsched_jax.agents.mdp import build_subagent


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--subagents", type=int, nargs="+", default=[0, 1])
    args = p.parse_args(argv)
    out = _common.agents_dir(args.out)
    for index in args.subagents:  # solving takes seconds: --tiny changes nothing here
        path, meta = build_subagent(index, out, args.traffic_dir, args.seed)
        print(
            f"sub-agent {index}: {meta['sweeps']} value-iteration sweeps, cut points "
            f"{meta['cut_points']}, {meta['solve_seconds']:.1f} s -> {path}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
