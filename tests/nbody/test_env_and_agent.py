"""The time-step environment, rewards, the DQN pieces and the batched evaluator."""

from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from geomsci.nbody.dqn import DQNConfig, Policy, epsilon, train_dqn
from geomsci.nbody.env import ACTIONS, TEST_SEEDS, TRAIN_SEEDS, SystemBatch, TimeStepEnv, compute_reward
from geomsci.nbody.evaluate import parse_seeds, run_controller, summarize
from geomsci.nbody.rewards import cost_reward, paper_reward, steady_reward


def test_actions_are_the_papers_ten_log_spaced_values():
    assert len(ACTIONS) == 10 and ACTIONS[0] == pytest.approx(1e-4) and ACTIONS[-1] == pytest.approx(1e-1)
    assert np.allclose(np.diff(np.log10(ACTIONS)), 1 / 3)


def test_train_and_test_seeds_are_disjoint():
    assert set(TEST_SEEDS).isdisjoint(range(TRAIN_SEEDS.start, TRAIN_SEEDS.start + 10_000))
    assert TRAIN_SEEDS.start > max(TEST_SEEDS)


@pytest.mark.parametrize(
    "reward,integrator,observation",
    [
        ("cost", "hermite", "paper"),
        ("paper", "aarseth", "paper"),
        ("steady", "hermite", "extended"),
        ("final", "hermite", "encounter"),
        ("final", "hermite", "encounter_mass"),
    ],
)
def test_env_passes_gymnasium_checker(reward, integrator, observation):
    env = TimeStepEnv(reward=reward, integrator=integrator, n_checks=5, observation=observation)
    check_env(env, skip_render_check=True)


def test_extended_observation_features():
    sb = SystemBatch([4, 5])
    o0 = sb.observe("extended")
    assert o0.shape == (2, 16) and np.array_equal(o0[:, :13], sb.observe("paper"))
    assert np.all(o0[:, 14] == 0) and np.all(o0[:, 15] == 0)  # no interval yet; log10 mu_prev = 0 means none
    sb.step(np.array([6, 3]))
    o1 = sb.observe("extended")
    np.testing.assert_allclose(o1[:, 15], np.log10(ACTIONS[[6, 3]]), rtol=1e-6)
    np.testing.assert_allclose(o1[:, 14], o1[:, 12] - 16.0, rtol=1e-6)  # -log10 err went from 16 to o1[:, 12]
    # the collision-time feature: log10(min pair time / 0.1 yr), finite and larger for a wider system
    assert np.all(np.isfinite(o1[:, 13])) and np.all(np.abs(o1[:, 13]) < 8)
    with pytest.raises(ValueError, match="observation"):
        sb.observe("raw")


def test_encounter_observation_sees_a_deep_fly_by():
    from geomsci.nbody.units import G_AU

    from .test_pair_orbit import hyperbolic_pair

    sb = SystemBatch([4, 5, 6])
    o = sb.observe("encounter")
    assert o.shape == (3, 18) and np.array_equal(o[:, :16], sb.observe("extended"))
    np.testing.assert_array_equal(o[:, 16:], [[3.0, 2.0]] * 3)  # wide triples at t = 0: no pericentre within 0.2 yr
    # made by hand: bodies 0 and 1 on a fly-by with q = 1e-3 AU, 0.05 yr (half an interval), 0.15 yr and 0.3 yr
    # before pericentre; body 2 at 50 AU receding at 20 AU/yr (unbound)
    for b, t_to_peri in enumerate((0.05, 0.15, 0.3)):
        r, w = hyperbolic_pair(q=1e-3, e=1.2, t_to_peri=t_to_peri, gm=2 * G_AU)
        x = torch.tensor([[0.0, 0, 0], r, [50.0, 0, 0]], dtype=torch.float64)
        sb.state.x[b] = x - x.mean(0)
        sb.state.v[b] = torch.tensor([[0.0, 0, 0], w, [20.0, 0, 0]], dtype=torch.float64)
    o = sb.observe("encounter")
    np.testing.assert_allclose(o[:2, 16], -3.0, atol=1e-5)  # log10(q / AU)
    np.testing.assert_allclose(o[:2, 17], [0.5, 1.5], rtol=1e-5)  # time to pericentre / check_step
    assert np.array_equal(o[2, 16:], [3.0, 2.0])  # 3 intervals ahead: outside the 2-interval window
    sb.state.v[:, :2] *= -1  # the pairs reversed: the passages are now 0.5 and 1.5 intervals behind
    o = sb.observe("encounter")
    np.testing.assert_allclose(o[:2, 16:], [[-3.0, -0.5], [-3.0, -1.5]], rtol=1e-5)


def test_env_episode_and_observation():
    env = TimeStepEnv(n_checks=3, observation="paper")
    obs, info = env.reset(options={"system_seed": 4})
    assert obs.shape == (13,) and obs.dtype == np.float32 and obs[-1] == 16.0  # no error yet
    total = 0
    for _ in range(3):
        obs, r, term, trunc, info = env.step(9)
        total += info["n_force"]
        assert not term
    assert trunc and info["t"] == pytest.approx(0.3) and obs[-1] < 16
    with pytest.raises(ValueError, match="action"):
        env.step(10)


def test_env_ends_early_on_large_error():
    env = TimeStepEnv(n_checks=300, max_error=1e-12)
    env.reset(options={"system_seed": 0})
    _, r, term, _, info = env.step(9)  # mu = 0.1 makes far more than 1e-12 error
    assert term and info["energy_error"] > 1e-12 and r < -50


def test_rewards():
    # paper: more error -> less reward; larger mu -> more reward
    assert (
        paper_reward(np.array([1e-6]), np.array([1e-6]), np.array([1e-2]))[0]
        < paper_reward(np.array([1e-9]), np.array([1e-9]), np.array([1e-2]))[0]
    )
    assert (
        paper_reward(np.array([1e-9]), np.array([1e-9]), np.array([1e-1]))[0]
        > paper_reward(np.array([1e-9]), np.array([1e-9]), np.array([1e-3]))[0]
    )
    # cost: error below the limit is free, each dex above costs 1, each 1000 evaluations cost lam
    r = cost_reward(np.array([1.0 + 1e-12, 1.0 + 1e-7]), np.array([1.0, 1.0]), np.array([1.0, 1.0]), np.array([500, 0]), lam=2.0)
    np.testing.assert_allclose(r, [-1.0, -3.0], atol=1e-6)
    # steady: each notch (1/3 dex) that mu moves costs c_switch; the first decision (mu_prev = 1) is free
    dE = np.array([1e-9, 1e-9, 1e-9])
    r = steady_reward(dE, dE, np.zeros(3), ACTIONS[[5, 5, 5]], np.array([ACTIONS[5], ACTIONS[7], 1.0]), c_switch=0.5)
    np.testing.assert_allclose(r, [0.0, -1.0, 0.0], atol=1e-9)
    # e_lim: error growth below it earns and costs nothing; above it, each dex costs 1
    out = {"E": np.array([1 + 1e-7, 1 + 1e-3]), "E_prev": np.array([1 + 1e-8, 1 + 1e-4]), "E0": np.ones(2)}
    out.update(n_force=np.zeros(2), mu=np.full(2, 0.1), mu_prev=np.full(2, 0.1), ended_early=np.zeros(2, bool))
    np.testing.assert_allclose(compute_reward("steady", out, e_lim=1e-6), [0.0, -1.0], atol=1e-9)
    np.testing.assert_allclose(compute_reward("steady", out), [-1.0, -1.0], atol=1e-9)  # default floor 1e-12
    with pytest.raises(ValueError, match="e_lim"):
        compute_reward("steady", out, e_lim=0.0)


def test_system_batch_matches_single_system_runs():
    seeds = [1, 2, 3]
    batch = SystemBatch(seeds)
    singles = [SystemBatch([s]) for s in seeds]
    acts = np.array([9, 6, 7])
    for _ in range(3):
        batch.step(acts)
        for i, s in enumerate(singles):
            s.step(acts[i : i + 1])
    for i, s in enumerate(singles):
        assert torch.equal(s.state.x[0], batch.state.x[i]) and torch.equal(s.E[0], batch.E[i])


def test_epsilon_decays_across_episodes_not_per_episode():
    cfg = DQNConfig(eps_start=1.0, eps_end=0.05, eps_decay=10.0)
    eps = [epsilon(e, cfg) for e in range(0, 100, 10)]
    assert eps[0] == 1.0 and all(a > b for a, b in zip(eps, eps[1:])) and eps[-1] < 0.06


def test_train_save_load_evaluate(tmp_path):
    cfg = DQNConfig(episodes=4, parallel=2, n_checks=4, batch_size=8, max_substeps=300, seed=0)
    pol = train_dqn(cfg, progress=False)
    assert len(pol.history["final_error"]) == 4
    path = pol.save(tmp_path / "p.pt")
    pol2 = Policy.load(path)
    obs = np.random.default_rng(0).normal(size=(5, 13)).astype(np.float32)
    assert np.array_equal(pol(obs), pol2(obs))
    res = run_controller([0, 1, 2], pol2, t_end=0.3)
    s = summarize(res)
    assert res["actions"].shape == (3, 3) and s["ended_early"] == 0 and s["median_n_force"] > 0
    with pytest.raises(FileNotFoundError):
        Policy.load(tmp_path / "missing.pt")
    # the extended observation and the steady reward train, save and evaluate the same way
    cfg = DQNConfig(
        episodes=2,
        parallel=2,
        n_checks=3,
        batch_size=4,
        max_substeps=300,
        seed=0,
        observation="extended",
        reward="steady",
        lam=0.3,
    )
    pol = Policy.load(train_dqn(cfg, progress=False).save(tmp_path / "e.pt"))
    assert pol.observation == "extended" and pol.net.net[0].in_features == 16
    assert run_controller([0, 1], pol, t_end=0.2)["actions"].shape == (2, 2)


def test_fixed_controller_smaller_mu_costs_more_and_errs_less():
    big = summarize(run_controller([0, 1], 9, t_end=1.0))
    small = summarize(run_controller([0, 1], 3, t_end=1.0))  # mu = 1e-3 vs 1e-1
    assert small["median_n_force"] > 5 * big["median_n_force"]
    assert small["median_error"] < big["median_error"]


def test_parse_seeds():
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    with pytest.raises(ValueError, match="seeds"):
        parse_seeds("a-b")


def test_env_is_exported_registered_and_has_the_cli_defaults():
    import inspect

    import gymnasium

    import geomsci.nbody
    from geomsci.nbody.cli import train

    assert geomsci.nbody.TimeStepEnv is TimeStepEnv and "TimeStepEnv" in geomsci.nbody.__all__
    env = gymnasium.make("geomsci/TimeStep-v0", n_checks=2)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (16,)  # the extended observation, as `geomsci nbody train` uses
    cli = {k: p.default.default for k, p in inspect.signature(train).parameters.items() if hasattr(p.default, "default")}
    envd = {k: p.default for k, p in inspect.signature(TimeStepEnv).parameters.items()}
    for key in ("n_checks", "reward", "lam", "c_switch", "observation", "e_lim"):
        assert envd[key] == cli[key], key


def test_symmetrized_step_options_reach_the_env():
    a = SystemBatch([5], step_options={"symmetric": 1})
    b = SystemBatch([5])
    a.step(np.array([7]))
    b.step(np.array([7]))
    assert not np.array_equal(a.state.x.numpy(), b.state.x.numpy())


def test_symmetrized_env_is_the_integrators_own_run_bit_for_bit():
    from geomsci.nbody import paper_triple
    from geomsci.nbody.integrate import state_from
    from geomsci.nbody.integrators import evolve
    from geomsci.nbody.units import G_AU

    opts = {"symmetric": 1, "corrector": 2, "compensated": True}
    env = TimeStepEnv(n_checks=3, step_options=opts, actions=[1e-2, 4.6e-2, 0.2])
    env.reset(options={"system_seed": 7})
    st = state_from([paper_triple(7)], G=G_AU)
    for k, a in enumerate([2, 0, 1]):
        _, _, _, _, info = env.step(a)
        evolve(st, 0.1 * (k + 1), param=env.actions[a], max_steps=env.max_substeps, **opts)
        assert info["mu"] == env.actions[a]
    ours = env.unwrapped._batch.state
    assert torch.equal(ours.x, st.x) and torch.equal(ours.v, st.v) and torch.equal(ours.x_err, st.x_err)
    assert torch.equal(ours.n_force, st.n_force)


def test_custom_action_sets_are_checked_and_used():
    env = TimeStepEnv(n_checks=2, actions=[1e-2, 0.1, 0.22])
    assert env.action_space.n == 3
    check_env(env, skip_render_check=True)
    with pytest.raises(ValueError, match="increasing"):
        TimeStepEnv(actions=[0.1, 1e-2])
    with pytest.raises(ValueError, match="positive"):
        SystemBatch([0], actions=[0.0, 0.1])
    # a fixed index means the set's value: index 1 of [1e-2, 0.1] is the paper's index 9 (mu = 0.1)
    a = run_controller([3], 1, t_end=0.2, actions=[1e-2, 0.1])
    b = run_controller([3], 9, t_end=0.2)
    assert np.array_equal(a["final_error"], b["final_error"]) and np.array_equal(a["n_force"], b["n_force"])


def test_policy_trained_on_another_action_set_and_step_keeps_them(tmp_path):
    cfg = DQNConfig(
        episodes=2, parallel=2, n_checks=2, batch_size=2, max_substeps=300, seed=0, observation="extended", reward="steady",
        actions=[2.2e-2, 4.6e-2, 0.1, 0.22], step_options={"symmetric": 1},
    )  # fmt: skip
    pol = Policy.load(train_dqn(cfg, progress=False).save(tmp_path / "s.pt"))
    assert pol.net.net[-1].out_features == 4 and np.allclose(pol.actions, [2.2e-2, 4.6e-2, 0.1, 0.22])
    assert pol.config.step_options == {"symmetric": 1}
    res = run_controller([0, 1], pol, t_end=0.2, step_options=pol.config.step_options)
    assert res["actions"].max() < 4
    with pytest.raises(ValueError, match="symmetric"):
        train_dqn(DQNConfig(episodes=1, integrator="aarseth", step_options={"symmetric": 1}), progress=False)
    # the shipped policy (trained before these fields existed) keeps the paper's ten actions
    shipped = Policy.load(Path(__file__).resolve().parents[2] / "assets" / "nbody" / "policy.pt")
    assert np.array_equal(shipped.actions, ACTIONS) and shipped.config.step_options is None
