import pytest

from difsched_jax import config as C


def test_registries_match_reference():
    assert C.get_subagent_config(0).flow == "thumb_fr"
    assert C.get_subagent_config(1).flow == "thumb_bk"
    sa = C.get_subagent_config(0)
    assert (sa.num_users, sa.window, sa.budget, sa.num_levels, sa.num_bins, sa.r_bar, sa.seed) == (
        4,
        200,
        60,
        5,
        4,
        5,
        999,
    )
    expected = [
        (8, 100, "thumb_fr", (0, 0), (0.3,)),
        (20, 200, "thumb_fr", (0,) * 5, (0.3,)),
        (8, 100, "thumb_fr", (0, 0), (0.1, 0.2, 0.3, 0.4, 0.5)),
        (20, 200, "thumb_fr", (0,) * 5, (0.1, 0.2, 0.3, 0.4, 0.5)),
        (8, 100, "thumb_bk", (1, 1), (0.3,)),
        (20, 200, "thumb_bk", (1,) * 5, (0.3,)),
        (8, 100, "thumb_bk", (1, 1), (0.1, 0.2, 0.3, 0.4, 0.5)),
        (20, 200, "thumb_bk", (1,) * 5, (0.1, 0.2, 0.3, 0.4, 0.5)),
    ]
    for i, (users, budget, flow, agents, ks) in enumerate(expected):
        d = C.get_dataset_config(i)
        assert (d.num_users, d.budget, d.flow, d.sub_agents, d.sigmoid_k) == (
            users,
            budget,
            flow,
            (agents,),
            ks,
        )
        assert all(s == 10.0 for s in d.sigmoid_s)
        assert d.user_map == tuple(tuple(range(g, g + 4)) for g in range(0, users, 4))
    for e, d in enumerate((2, 3, 6, 7)):
        env, ds = C.get_env_config(e), C.get_dataset_config(d)
        assert (env.num_users, env.budget, env.flow, env.sigmoid_pairs) == (
            ds.num_users,
            ds.budget,
            ds.flow,
            ds.sigmoid_pairs,
        )
    assert [(x.train_dataset, x.test_dataset, x.env) for x in C.EXPERIMENT_CONFIGS.values()] == [
        (0, 2, 0),
        (1, 3, 1),
        (4, 6, 2),
        (5, 7, 3),
    ]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(num_users=0), "num_users"),
        (dict(budget=-5), "budget"),
        (dict(window=0), "window"),
        (dict(flow="thumb_xx"), "flow"),
        (dict(sigmoid_k=()), "sigmoid_k"),
        (dict(sigmoid_k=(0.1, 0.2), sigmoid_s=(10.0,)), "sigmoid_k"),
        (dict(user_map=((0, 1, 2, 3), (3, 4, 5, 6, 7))), "user_map"),
        (dict(user_map=((0, 1, 2),)), "user_map"),
        (dict(sub_agents=((0,),)), "sub_agents"),
        (dict(sub_agents=((0, 7),)), "sub-agent"),
        (dict(traffic="poisson"), "traffic"),
    ],
)
def test_bad_slice_config_names_the_field(kwargs, field):
    base = dict(num_users=8, budget=100, flow="thumb_fr", sigmoid_k=(0.3,))
    base.update(kwargs)
    with pytest.raises(ValueError, match=field):
        C.EnvConfig(**base)


def test_unknown_index():
    for getter in (
        C.get_env_config,
        C.get_dataset_config,
        C.get_subagent_config,
        C.get_experiment_config,
    ):
        with pytest.raises(ValueError, match="unknown"):
            getter(42)
    with pytest.raises(ValueError, match="unknown"):
        C.ExperimentConfig(0, 2, 9)


def test_zip_pairs_and_roundtrip():
    cfg = C.get_env_config(0)
    assert len(cfg.sigmoid_pairs) == 5
    assert C.EnvConfig.from_dict(cfg.to_dict()) == cfg
