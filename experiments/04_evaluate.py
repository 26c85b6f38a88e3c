"""Stage 4: evaluate every policy on the test split of each experiment's env (SPEC §7).

    python experiments/04_evaluate.py [--experiments 0 1 2 3]

Random, proportional, equal share, the MDP behaviour policy, Diffusion-QL with
and without BC (those trained by 03), and the exact myopic oracle with
predicted and with perfect observation; every policy sees the same random
numbers. Writes results/exp{I}.json (table) and exp{I}_alloc.npz (the
allocations each policy chose, for 05_figures.py).
"""

from __future__ import annotations

import json
import os

import _common
import numpy as np

from difsched_jax.config import get_env_config, get_experiment_config
from difsched_jax.evaluate.compare import format_table
from difsched_jax.pipeline.evaluation import evaluate_with_allocations


def policies(out: str, exp: int) -> list[tuple[str, str]]:
    """(label, registry name); Diffusion-QL runs that 03 has not trained are left out."""
    names = [
        ("random", "random"),
        ("proportional", "proportional"),
        ("equal share", "equal"),
        ("MDP behaviour", f"mdp:{_common.agents_dir(out)}"),
    ]
    for variant, label in (("bc", "Diffusion-QL (BC)"), ("nobc", "Diffusion-QL (no BC)")):
        run = _common.run_dir(out, exp, variant)
        if os.path.exists(os.path.join(run, "summary.json")):
            names.append((label, f"dql:{run}"))
        else:
            print(f"experiment {exp}: no {variant} run in {run}, left out")
    return names + [
        ("oracle (predicted obs)", "oracle"),
        ("oracle (perfect obs)", "oracle-perfect"),
    ]


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.splitlines()[0])
    _common.add_experiments(p)
    args = p.parse_args(argv)
    size = _common.sizes(args)
    folder = _common.results_dir(args.out)
    os.makedirs(folder, exist_ok=True)
    for exp in args.experiments:
        env_index = get_experiment_config(exp).env
        config = get_env_config(env_index)
        trace = _common.trace(config.flow, config.window, args.traffic_dir, args.seed)
        rows, allocations = [], {}
        for i, (label, name) in enumerate(policies(args.out, exp)):
            row, samples = evaluate_with_allocations(
                name,
                config,
                trace,
                num_slices=size.eval_slices,
                num_windows=size.eval_windows,
                episode_len=size.eval_episode_len,
                seed=args.seed,
            )
            row.name = label
            rows.append(row)
            allocations.update({f"{i}/{k}": v for k, v in samples.items()})
            allocations[f"{i}/label"] = np.array(label)
        print(f"experiment {exp} (env config {env_index}), test split")
        print(format_table(rows))
        payload = {
            "experiment": exp,
            "env_config": env_index,
            "config": config.to_dict(),
            "traffic": args.traffic_dir or f"synthetic (seed {args.seed})",
            "results": [{"label": r.name, **r.summary()} for r in rows],
        }
        with open(os.path.join(folder, f"exp{exp}.json"), "w") as f:
            json.dump(payload, f, indent=2)
        np.savez(os.path.join(folder, f"exp{exp}_alloc.npz"), **allocations)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
