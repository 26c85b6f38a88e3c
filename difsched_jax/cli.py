"""The `difsched` command. Subcommands parse arguments and call library functions."""

from __future__ import annotations

import argparse
import json
import os
import sys


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="mean packet loss of one or several policies with 95 %% intervals",
        description="Evaluate policies over independent slices x windows. Several "
        "comma-separated policies give one table (and with --plot one bar chart).",
    )
    p.add_argument("--env-config", type=int, default=0, help="env config index (SPEC §2)")
    p.add_argument(
        "--policy",
        default="equal",
        help="comma-separated names: equal, proportional, random, oracle, "
        "oracle-perfect, mdp:DIR (e.g. equal,oracle,mdp:agents)",
    )
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--obs", choices=("predicted", "perfect"), default="predicted")
    p.add_argument("--slices", type=int, default=64, help="independent slices (>= 2)")
    p.add_argument("--windows", type=int, default=1000, help="windows per slice")
    p.add_argument(
        "--episode-len", type=int, default=None, help="windows per episode (default: --windows)"
    )
    p.add_argument(
        "--traffic-dir", default=None, help="folder with {flow}_window{L}.npz (default: synthetic)"
    )
    p.add_argument(
        "--alignment",
        choices=("reference", "aligned"),
        default="reference",
        help="losses on the previous window's actual counts, as the reference (and "
        "SPEC §1's table) does (default), or on the observed window's",
    )
    p.add_argument("--seed", type=int, default=0, help="evaluation seed (and synthetic traffic)")
    p.add_argument("--json", default=None, help="write the figures here")
    p.add_argument(
        "--plot",
        default=None,
        help="PNG: a bar chart with 95 %% error bars (several policies) or the "
        "histogram of per-window losses (one policy)",
    )
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args) -> int:
    from difsched_jax.config import get_env_config
    from difsched_jax.evaluate.compare import (
        check_sizes,
        compare_policies,
        comparison_payload,
        eval_trace,
        format_table,
    )

    check_sizes(args.slices, args.windows, args.episode_len)  # before loading anything
    config = get_env_config(args.env_config)
    trace = eval_trace(config, args.traffic_dir, args.alignment, args.seed)
    rows = compare_policies(
        args.policy,
        config,
        trace,
        split=args.split,
        obs=args.obs,
        num_slices=args.slices,
        num_windows=args.windows,
        episode_len=args.episode_len,
        seed=args.seed,
    )
    traffic = args.traffic_dir or "synthetic"
    print(
        f"env config {args.env_config}, {args.split} split, traffic {traffic}, "
        f"alignment {args.alignment}"
    )
    print(format_table(rows))
    if args.json:
        payload = comparison_payload(
            rows,
            env_config=args.env_config,
            config=config.to_dict(),
            split=args.split,
            traffic=traffic,
            alignment=args.alignment,
            seed=args.seed,
        )
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=2)
    if args.plot:
        from difsched_jax.evaluate.plots import plot_comparison, plot_loss_histogram

        kind = "real" if args.traffic_dir else "synthetic"
        title = (
            f"env config {args.env_config}: {args.split} split, {kind} traffic, "
            f"{args.alignment} alignment"
        )
        plot = plot_comparison if len(rows) > 1 else plot_loss_histogram
        print(f"wrote {plot(rows, args.plot, title)}")
    return 0


def _add_build_agent(sub) -> None:
    p = sub.add_parser("build-agent", help="solve MDP sub-agents (SPEC §3) and save them")
    p.add_argument(
        "--subagent-config", type=int, nargs="+", required=True, help="index(es), e.g. 0 1"
    )
    p.add_argument(
        "--out",
        default=None,
        help="folder: writes mdp_subagent{i}.npz + .json (default data/results/MdpPolicy)",
    )
    p.add_argument(
        "--traffic-dir", default=None, help="folder with {flow}_window{L}.npz (default: synthetic)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic traffic")
    p.set_defaults(func=_cmd_build_agent)


def _cmd_build_agent(args) -> int:
    from difsched_jax import paths
    from difsched_jax.agents.mdp import build_subagent

    out = args.out or paths.agents_dir()
    for index in args.subagent_config:
        path, meta = build_subagent(index, out, args.traffic_dir, args.seed)
        print(
            f"sub-agent {index}: {meta['sweeps']} sweeps, {meta['solve_seconds']:.3f} s "
            f"(compile included), cut points {meta['cut_points']} -> {path}"
        )
    return 0


def _add_gen_dataset(sub) -> None:
    p = sub.add_parser(
        "gen-dataset",
        help="offline dataset of a dataset config (SPEC §4), sharded to disk",
        description="Every slice x window is one transition of the config's MDP behaviour "
        "policy. Chunks of windows run as one jitted scan over all slices (sharded over the "
        "local devices) and are written as checked .npz shards while the next chunk runs.",
    )
    p.add_argument("--dataset-config", type=int, required=True, help="index 0-7 (SPEC §2)")
    p.add_argument("--slices", type=int, default=1, help="independent slices S (reference: 1)")
    p.add_argument("--windows", type=int, default=10_000, help="windows per slice")
    p.add_argument("--episode-len", type=int, default=1000, help="windows per episode")
    p.add_argument("--obs", choices=("predicted", "perfect"), default="predicted")
    p.add_argument("--split", choices=("train", "test"), default="train")
    p.add_argument(
        "--traffic-dir", default=None, help="folder with {flow}_window{L}.npz (default: synthetic)"
    )
    p.add_argument("--traffic-seed", type=int, default=0, help="seed of the synthetic traffic")
    p.add_argument(
        "--alignment",
        choices=("reference", "aligned"),
        default="reference",
        help="losses on the previous window's actual counts, as the reference does "
        "(default), or on the observed window's",
    )
    p.add_argument(
        "--agents", default=None, help="folder of solved sub-agents (default: solve them now)"
    )
    p.add_argument("--seed", type=int, default=None, help="data seed (default: the config's)")
    p.add_argument(
        "--behaviour-noise",
        type=float,
        default=0.0,
        help="noisy MDP behaviour: add N(0, (X·B/N)²) resource blocks per user to each request "
        "(default 0: the reference's policy)",
    )
    p.add_argument("--chunk-windows", type=int, default=None, help="windows per shard")
    p.add_argument("--devices", type=int, default=None, help="local devices (default: all)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="call jax.distributed.initialize() first; each host writes part-PPP-of-NNN/",
    )
    p.add_argument("--coordinator", default=None, help="host:port of process 0 (--distributed)")
    p.add_argument("--num-processes", type=int, default=None, help="hosts (--distributed)")
    p.add_argument("--process-id", type=int, default=None, help="this host (--distributed)")
    p.add_argument(
        "--heartbeat-timeout",
        type=int,
        default=60,
        help="seconds without a heartbeat after which a process counts as dead and the "
        "others stop with an error (--distributed; default 60)",
    )
    p.add_argument(
        "--init-timeout",
        type=int,
        default=300,
        help="seconds to wait for every process to join (--distributed; default 300)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="dataset folder (default data/processed/offline_dataset/offline_datasetI_SS_TT_seedK)",
    )
    p.set_defaults(func=_cmd_gen_dataset)


def _cmd_gen_dataset(args) -> int:
    if args.out is None:
        from difsched_jax import paths
        from difsched_jax.config import get_dataset_config

        seed = get_dataset_config(args.dataset_config).seed if args.seed is None else args.seed
        args.out = paths.dataset_dir(args.dataset_config, args.slices, args.windows, seed)
    if not args.distributed:
        if args.coordinator or args.num_processes is not None or args.process_id is not None:
            raise ValueError("--coordinator, --num-processes and --process-id need --distributed")
        return _gen_dataset(args, None)
    from difsched_jax import distributed

    setup = distributed.HostSetup(
        args.coordinator, args.num_processes, args.process_id,
        args.heartbeat_timeout, args.init_timeout,
    )  # fmt: skip
    lost = (
        f"{args.out} is incomplete and will not load: start every process again with the "
        "same flags and --resume (finished shards are kept)"
    )
    return distributed.run_supervised(lambda: _gen_dataset(args, setup), setup, "gen-dataset", lost)


def _gen_dataset(args, setup) -> int:
    """gen-dataset proper; with a HostSetup, in a supervised child of a distributed run."""
    import jax

    if setup is not None:  # before anything touches a device
        from difsched_jax.distributed import initialize

        initialize(setup)
    from difsched_jax.config import get_dataset_config
    from difsched_jax.data import DatasetError, generate_dataset, load_dataset
    from difsched_jax.data.alignment import align_trace, source_path
    from difsched_jax.data.policy import behaviour_policies
    from difsched_jax.traffic import get_trace

    config = get_dataset_config(args.dataset_config)
    trace = get_trace(config.flow, config.window, args.traffic_dir, seed=args.traffic_seed)
    trace = align_trace(
        trace, args.alignment, source_path(args.traffic_dir, config.flow, config.window)
    )
    policies, facts = behaviour_policies(
        config, args.traffic_dir, args.agents, args.traffic_seed, args.behaviour_noise
    )
    info = {
        "dataset_config": args.dataset_config,
        "traffic": args.traffic_dir or f"synthetic (seed {args.traffic_seed})",
        "alignment": args.alignment,
        **facts,
    }
    summary = generate_dataset(
        args.out,
        config,
        trace,
        policies,
        num_slices=args.slices,
        num_windows=args.windows,
        episode_len=args.episode_len,
        obs=args.obs,
        split=args.split,
        seed=config.seed if args.seed is None else args.seed,
        chunk_windows=args.chunk_windows,
        resume=args.resume,
        progress=not args.no_progress,
        devices=args.devices,
        process_index=jax.process_index(),
        process_count=jax.process_count(),
        info=info,
    )
    print(
        f"{summary['folder']}: {summary['transitions']:,} transitions in {summary['seconds']:.1f} s "
        f"({summary['transitions_per_s']:,.0f}/s), {summary['shards']} shards, "
        f"{summary['bytes'] / 2**20:,.1f} MiB written",
        flush=True,
    )
    first = jax.process_index() == 0
    if setup is not None:
        from difsched_jax.distributed import wait_for_all

        wait_for_all("gen-dataset-done")  # every part is complete
        jax.distributed.shutdown()
    if first:  # process 0 reads the joined dataset (all parts, on a shared file system)
        try:
            ds = load_dataset(args.out, verify=False)
        except DatasetError as e:
            print(f"the parts are not all here to join ({e}); gather the part-* folders in one")
            return 0
        total = sum(float(d["loss"].sum(dtype="float64")) for _, d in ds.iter_shards(["loss"]))
        print(f"mean loss {total / ds.num_transitions:.4f} over {ds.num_transitions:,} transitions")
    return 0


def _add_convert_trace(sub) -> None:
    p = sub.add_parser(
        "convert-trace", help="convert a reference trace pickle to .npz (restricted unpickler)"
    )
    p.add_argument("src", help="the reference's pickle: a dict of NumPy arrays")
    p.add_argument("dst", help="the .npz to write")
    p.add_argument("--window", type=int, default=200, help="window length L (counts <= L)")
    p.set_defaults(func=_cmd_convert_trace)


def _cmd_convert_trace(args) -> int:
    from difsched_jax.traffic.convert import convert_pickle_trace

    trace = convert_pickle_trace(args.src, args.dst, args.window)
    print(
        f"wrote {args.dst}: {trace.train_actual.shape[0]} train + "
        f"{trace.test_actual.shape[0]} test windows, L = {trace.window}"
    )
    return 0


def _add_synth_traffic(sub) -> None:
    p = sub.add_parser(
        "synth-traffic",
        help="write the synthetic traces as {flow}_window{L}.npz files (for --traffic-dir)",
        description="The built-in synthetic traffic, written in the reference's trace format. "
        "`--traffic-dir` on that folder gives the same data as the synthetic default.",
    )
    p.add_argument("--flows", default="thumb_fr,thumb_bk", help="comma-separated presets")
    p.add_argument("--window", type=int, default=200, help="window length L (samples)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic traffic")
    p.add_argument("--out", default=None, help="folder (default data/processed/traffic)")
    p.set_defaults(func=_cmd_synth_traffic)


def _cmd_synth_traffic(args) -> int:
    from difsched_jax import paths
    from difsched_jax.traffic import synthetic_trace, trace_filename

    flows = [f.strip() for f in args.flows.split(",") if f.strip()]
    if not flows:
        raise ValueError("--flows names no flow")
    traces = [synthetic_trace(flow, window=args.window, seed=args.seed) for flow in flows]
    out = args.out or paths.traffic_dir()
    os.makedirs(out, exist_ok=True)
    for flow, trace in zip(flows, traces):
        path = os.path.join(out, trace_filename(flow, args.window))
        trace.save(path)
        print(
            f"wrote {path}: {trace.train_actual.size} train + {trace.test_actual.size} test windows"
        )
    return 0


def _add_train_drl(sub) -> None:
    p = sub.add_parser(
        "train-drl",
        help="train an online deep-RL baseline (PPO or SAC) on the vectorised env",
        description="Train PPO or SAC on many slices in parallel (train split; its last "
        "--val-fraction held out to pick the best checkpoint). Writes OUT/config.json, "
        "metrics.jsonl, curve.png, summary.json and Orbax checkpoints OUT/ckpt/{best,latest}. "
        "Evaluate with `difsched evaluate --policy ppo:OUT`.",
    )
    p.add_argument("--algo", choices=("ppo", "sac"), default=None, help="required unless --resume")
    p.add_argument("--env-config", type=int, default=None, help="env config index (SPEC §2)")
    p.add_argument("--steps", type=int, default=None, help="env steps (default 100000)")
    p.add_argument("--slices", type=int, default=None, help="parallel slices (default: agent's)")
    p.add_argument(
        "--traffic-dir", default=None, help="folder with {flow}_window{L}.npz (default: synthetic)"
    )
    p.add_argument("--obs", choices=("predicted", "perfect"), default="predicted")
    p.add_argument("--alignment", choices=("reference", "aligned"), default="reference")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk-steps", type=int, default=10_000, help="env steps per jitted chunk")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="agent hyper-parameter, e.g. --set lr=3e-4 --set hidden=[128,128] (repeatable)",
    )
    p.add_argument("--out", default=None, help="run folder (default data/results/drl/ALGO_envE_sK)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train_drl)


def _cmd_train_drl(args) -> int:
    from difsched_jax import paths
    from difsched_jax.train import drl

    if args.resume:
        if args.out is None:
            raise ValueError("--resume needs --out (the run folder to continue)")
        run = drl.load_run_config(args.out)
        _check_resume(args, run, ("algo", "env_config", "steps"))
    else:
        if args.algo is None or args.env_config is None:
            raise ValueError("--algo and --env-config are required (unless --resume)")
        agent = _parse_sets(args.set)
        run = drl.make_run_config(
            args.algo,
            args.env_config,
            slices=args.slices,
            steps=args.steps or 100_000,
            obs=args.obs,
            traffic_dir=args.traffic_dir,
            alignment=args.alignment,
            seed=args.seed,
            chunk_steps=args.chunk_steps,
            val_fraction=args.val_fraction,
            agent=agent,
        )
        args.out = args.out or paths.drl_run_dir(run.algo, run.env_config, args.seed)
    summary = drl.train(run, args.out, resume=args.resume, progress=not args.no_progress)
    print(json.dumps(summary, indent=2))
    print(f"run folder: {args.out}")
    return 0


def _parse_sets(items: list[str]) -> dict:
    """--set KEY=JSON items (repeatable) -> {key: value}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=JSON, got {item!r}")
        out[key.strip()] = json.loads(value)
    return out


def _check_resume(args, run, names: tuple[str, ...]) -> None:
    """--resume continues the run as saved: a flag given with another value is an error."""
    for name in names:
        given = getattr(args, name)
        if given is not None and given != getattr(run, name):
            raise ValueError(
                f"--resume continues {args.out} as saved ({name} = {getattr(run, name)}), "
                f"got --{name.replace('_', '-')} {given}"
            )


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train the Diffusion-QL agent (SPEC §5) offline, then with online fine-tuning",
        description="Each episode: updates (BC on the offline dataset, critic and Q-loss on "
        "a hybrid offline+online batch) in one jitted scan, then exploration (EAS) and greedy "
        "rollouts in vectorised slices on the TRAIN split; the best model is chosen on a "
        "held-out tail of the train split. Writes OUT/config.json, metrics.jsonl, curves.png, "
        "summary.json and Orbax checkpoints OUT/ckpt/{best,latest}. Evaluate on the test "
        "split with `difsched evaluate --policy dql:OUT` (dql:OUT@latest for the last).",
    )
    p.add_argument("--exp-config", type=int, default=None, help="experiment config (SPEC §2)")
    p.add_argument("--dataset", default=None, help="offline dataset folder (gen-dataset)")
    p.add_argument("--no-bc", action="store_true", help="SPEC §5's preset without BC")
    p.add_argument(
        "--spec-agent",
        action="store_true",
        help="SPEC §5's agent as written (γ 0.99, raw actions) instead of our myopic "
        "defaults (γ 0, actions spend exactly B)",
    )
    p.add_argument("--episodes", type=int, default=None, help="episodes (default 50)")
    p.add_argument(
        "--traffic-dir", default=None, help="folder with {flow}_window{L}.npz (default: synthetic)"
    )
    p.add_argument("--seed", type=int, default=None, help="training seed (default 0)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help='a run setting (e.g. updates_per_episode=200, rank_critic="online") or an agent '
        "setting (DQLConfig: gamma=0, beta_max=1.0); repeatable",
    )
    p.add_argument(
        "--out", default=None, help="run folder (default data/results/dql/expI_{bc,nobc}_sK)"
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args) -> int:
    from difsched_jax.agents.dql import DQLConfig
    from difsched_jax.train import dql

    if args.resume:
        if args.out is None:
            raise ValueError("--resume needs --out (the run folder to continue)")
        run = dql.load_run_config(args.out)
        _check_resume(args, run, ("exp_config", "episodes", "seed"))
    else:
        if args.exp_config is None or args.dataset is None:
            raise ValueError("--exp-config and --dataset are required (unless --resume)")
        agent_fields = set(DQLConfig.__dataclass_fields__)
        run_kw, agent = {}, {}
        for key, value in _parse_sets(args.set).items():
            (agent if key in agent_fields else run_kw)[key] = value
        for name in ("episodes", "seed"):
            if getattr(args, name) is not None:
                run_kw[name] = getattr(args, name)
        run = dql.make_run_config(
            args.exp_config,
            args.dataset,
            bc=not args.no_bc,
            spec_agent=args.spec_agent,
            traffic_dir=args.traffic_dir,
            agent=agent,
            **run_kw,
        )
        if args.out is None:
            from difsched_jax import paths

            args.out = paths.dql_run_dir(run.exp_config, run.bc, run.seed)
    summary = dql.train(run, args.out, resume=args.resume, progress=not args.no_progress)
    print(json.dumps(summary, indent=2))
    print(f"run folder: {args.out}")
    return 0


def _add_pipeline(sub) -> None:
    p = sub.add_parser(
        "pipeline",
        help="one command from traffic to report: agents, datasets, training, evaluation",
        description="Build the MDP sub-agents, generate the offline datasets, train "
        "Diffusion-QL with and without behaviour cloning (and PPO/SAC with --drl), evaluate "
        "every policy on the test split, and write OUT/report.md and OUT/results.json. "
        "Each stage's folder is named by a hash of its inputs: finished stages are skipped "
        "and an interrupted run continues where it stopped.",
    )
    p.add_argument(
        "--preset",
        choices=("quick", "paper", "tiny"),
        default="quick",
        help="quick: experiment 0, minutes on a CPU (default); paper: the reference's four "
        "experiments at full size; tiny: seconds, meaningless numbers (tests)",
    )
    p.add_argument(
        "--traffic-dir", default=None, help="folder with {flow}_window{L}.npz (default: synthetic)"
    )
    p.add_argument("--out", default=None, help="run folder (default data/results/pipeline/PRESET)")
    p.add_argument("--seed", type=int, default=0, help="traffic, data, training and eval seed")
    p.add_argument("--alignment", choices=("reference", "aligned"), default="reference")
    p.add_argument(
        "--drl",
        default=None,
        help="deep-RL baselines to train too, comma-separated (ppo,sac) or 'none' "
        "(default: the preset's: none for quick, ppo,sac for paper)",
    )
    p.add_argument(
        "--compile-cache",
        default=None,
        help="folder that keeps compiled XLA programs between runs (default "
        "$JAX_COMPILATION_CACHE_DIR or ~/.cache/difsched_jax/xla; 'none': off)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_pipeline)


def _cmd_pipeline(args) -> int:
    from difsched_jax import paths
    from difsched_jax.pipeline import run_pipeline
    from difsched_jax.pipeline.compile_cache import default_cache_dir, use_compile_cache

    if args.compile_cache != "none":
        use_compile_cache(args.compile_cache or default_cache_dir())
    drl = None
    if args.drl is not None:
        drl = tuple(a.strip() for a in args.drl.split(",") if a.strip() not in ("", "none"))
    run_pipeline(
        args.preset,
        args.out or paths.pipeline_dir(args.preset),
        traffic_dir=args.traffic_dir,
        seed=args.seed,
        alignment=args.alignment,
        drl=drl,
        progress=not args.no_progress,
    )
    return 0


def _add_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="run every benchmark script; write benchmarks.json and BENCHMARKS.md",
        description="Runs each script in benchmarks/ in its own process (medians after "
        "warm-up, compile time apart), merges their JSON into OUT/benchmarks.json and writes "
        "OUT/BENCHMARKS.md with the headline ratios, scaling and multi-device tables and plots.",
    )
    p.add_argument("--quick", action="store_true", help="short runs (under 5 minutes on 2 cores)")
    p.add_argument("--out", default="bench_out", help="output folder (default bench_out)")
    p.add_argument("--traffic-dir", default=None, help="real traces (default: synthetic)")
    p.add_argument("--only", default=None, help="comma-separated script names, e.g. oracle.py")
    p.add_argument("--readme", default=None, help="also rewrite this README's performance table")
    p.add_argument(
        "--report-only", action="store_true", help="rewrite the report from existing JSON files"
    )
    p.set_defaults(func=_cmd_bench)


def _cmd_bench(args) -> int:
    from difsched_jax import bench_suite

    if args.report_only:
        payload = bench_suite.write_report(args.out, quick=args.quick, traffic_dir=args.traffic_dir)
    else:
        only = [n.strip() for n in args.only.split(",")] if args.only else None
        payload = bench_suite.run_suite(args.out, args.quick, args.traffic_dir, only)
    if args.readme:
        bench_suite.update_readme(args.readme, payload)
        print(f"updated the performance table of {args.readme}")
    failed = [name for name, run in payload["runs"].items() if run["status"].startswith("failed")]
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="difsched", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_gen_dataset(sub)
    _add_evaluate(sub)
    _add_build_agent(sub)
    _add_convert_trace(sub)
    _add_synth_traffic(sub)
    _add_train(sub)
    _add_train_drl(sub)
    _add_pipeline(sub)
    _add_bench(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as e:
        print(f"difsched {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
