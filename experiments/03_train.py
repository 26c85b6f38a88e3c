"""Stage 3: train Diffusion-QL (SPEC §5) with and without behaviour cloning.

    python experiments/03_train.py [--experiments 0 1 2 3] [--variants bc nobc]

Experiment I trains on its train dataset (0, 1, 4, 5) and interacts with the
train split of its env; the best model is chosen on a held-out tail of that
split. A finished run is skipped, an interrupted one resumes. Needs 02.
"""

from __future__ import annotations

import json
import os

import _common

from difsched_jax.config import get_experiment_config
from difsched_jax.train import dql


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.splitlines()[0])
    _common.add_experiments(p)
    p.add_argument("--variants", nargs="+", choices=_common.VARIANTS, default=_common.VARIANTS)
    args = p.parse_args(argv)
    size = _common.sizes(args)
    for exp in args.experiments:
        dataset = _common.dataset_dir(args.out, get_experiment_config(exp).train_dataset)
        for variant in args.variants:
            run = dql.make_run_config(
                exp,
                os.path.abspath(dataset),
                bc=variant == "bc",
                traffic_dir=args.traffic_dir,
                seed=args.seed,
                agent=size.train_agent,
                **size.train_run,
            )
            out = _common.run_dir(args.out, exp, variant)
            summary_path = os.path.join(out, "summary.json")
            if os.path.exists(summary_path):
                with open(summary_path) as f:
                    if json.load(f)["episodes_done"] == run.episodes:
                        print(f"experiment {exp} {variant}: trained already ({out})")
                        continue
            resume = os.path.exists(os.path.join(out, "config.json"))
            summary = dql.train(run, out, resume=resume, progress=not args.tiny)
            print(
                f"experiment {exp} {variant}: best validation loss "
                f"{summary['best_val_loss']:.4f} at episode {summary['best_episode']} -> {out}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
