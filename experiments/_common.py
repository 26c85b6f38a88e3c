"""What the experiment scripts share: arguments, sizes and the folder layout.

    OUT/agents/mdp_subagent{0,1}.npz         01_build_agents.py
    OUT/datasets/dataset{0..7}/              02_gen_datasets.py
    OUT/train/dql_exp{I}_{bc,nobc}/          03_train.py
    OUT/results/exp{I}.json, exp{I}_alloc.npz  04_evaluate.py
    OUT/figures/*.png                        05_figures.py

Sizes are the pipeline's presets: "paper" (the reference's) by default,
"tiny" with --tiny (seconds; the tests use it, the numbers mean nothing).
"""

from __future__ import annotations

import argparse
import os

from difsched_jax.pipeline.presets import PAPER, TINY, Preset
from difsched_jax.traffic import load_trace

ALL_EXPERIMENTS = (0, 1, 2, 3)
VARIANTS = ("bc", "nobc")  # Diffusion-QL with and without behaviour cloning


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default="runs/experiments", help="folder shared by the scripts")
    p.add_argument(
        "--traffic-dir", default=None, help="folder with {flow}_window{L}.npz (default: synthetic)"
    )
    p.add_argument("--seed", type=int, default=0, help="traffic, data, training and eval seed")
    p.add_argument("--tiny", action="store_true", help="tiny budget (tests): seconds, no meaning")
    return p


def add_experiments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--experiments", type=int, nargs="+", default=list(ALL_EXPERIMENTS), help="configs 0-3"
    )


def sizes(args) -> Preset:
    return TINY if args.tiny else PAPER


def agents_dir(out: str) -> str:
    return os.path.join(out, "agents")


def dataset_dir(out: str, index: int) -> str:
    return os.path.join(out, "datasets", f"dataset{index}")


def run_dir(out: str, exp: int, variant: str) -> str:
    return os.path.join(out, "train", f"dql_exp{exp}_{variant}")


def results_dir(out: str) -> str:
    return os.path.join(out, "results")


def trace(flow: str, window: int, traffic_dir: str | None, seed: int):
    """A flow's trace with the reference's loss/observation pairing (SPEC §1)."""
    return load_trace(flow, window, traffic_dir, seed, "reference")
