"""Stage 2: offline datasets 0-7 of the MDP behaviour policy (SPEC §4).

    python experiments/02_gen_datasets.py [--datasets 0 2] [--traffic-dir DIR]

The reference: 10 episodes of 1,000 windows per dataset, train split,
predicted observation; over-allocation cut by the budget rule. Needs
01_build_agents.py. An interrupted dataset continues where it stopped.
"""

from __future__ import annotations

import os

import _common

from difsched_jax.config import get_dataset_config
from difsched_jax.data import generate_dataset, load_dataset
from difsched_jax.data.policy import behaviour_policies


def mean_loss(folder: str) -> tuple[float, int]:
    ds = load_dataset(folder, verify=False)
    total = sum(float(d["loss"].sum(dtype="float64")) for _, d in ds.iter_shards(["loss"]))
    return total / ds.num_transitions, ds.num_transitions


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--datasets", type=int, nargs="+", default=list(range(8)))
    args = p.parse_args(argv)
    size = _common.sizes(args)
    agents = _common.agents_dir(args.out)
    for index in args.datasets:
        config = get_dataset_config(index)
        folder = _common.dataset_dir(args.out, index)
        policies, facts = behaviour_policies(config, args.traffic_dir, agents, args.seed)
        generate_dataset(
            folder,
            config,
            _common.trace(config.flow, config.window, args.traffic_dir, args.seed),
            policies,
            num_slices=size.dataset_slices,
            num_windows=size.dataset_windows,
            episode_len=size.dataset_episode_len,
            seed=config.seed + args.seed,  # seed 0: the reference's 999
            resume=os.path.exists(os.path.join(folder, "meta.json")),
            progress=not args.tiny,
            info={"dataset_config": index, **facts},
        )
        loss, n = mean_loss(folder)
        print(
            f"dataset {index} ({config.num_users} users, B = {config.budget}, {config.flow}): "
            f"{n:,} transitions, mean loss {loss:.4f} -> {folder}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
