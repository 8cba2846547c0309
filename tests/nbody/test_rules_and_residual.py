"""Hand-written controllers (`geomsci.nbody.rules`) and the residual agent that starts from one."""

import numpy as np
import pytest

from geomsci.nbody.dqn import AgentView, DQNConfig, Policy, train_dqn
from geomsci.nbody.env import SystemBatch
from geomsci.nbody.evaluate import run_controller
from geomsci.nbody.rules import HALF_NOTCHES, PASSAGE_C, PASSAGE_P, DepthRule, ThresholdRule, near_passage


def encounter_obs(log_q, t_to, neg_log_err=8.0):
    """(B, 18) encounter observations with only the columns the rules read set."""
    log_q, t_to = np.atleast_1d(log_q).astype(float), np.atleast_1d(t_to).astype(float)
    obs = np.zeros((log_q.size, 18), dtype=np.float32)
    obs[:, 12], obs[:, 16], obs[:, 17] = neg_log_err, log_q, t_to
    return obs


def test_depth_rule_inverts_the_passage_law():
    rule = DepthRule(0.1, 3e-4)
    assert rule.actions.max() == 0.1 and rule.observation == "encounter"
    log_q = np.array([-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -8.0])
    mu = rule.actions[rule(encounter_obs(log_q, 0.5))]
    # the chosen mu keeps the predicted error at or below the budget, and the next half notch up would not
    predicted = PASSAGE_C * mu**PASSAGE_P / 10.0**log_q
    assert np.all((predicted <= 3e-4 * (1 + 1e-6)) | (mu == rule.actions[0]))
    up = np.minimum(np.searchsorted(rule.actions, mu) + 1, len(rule.actions) - 1)
    over = PASSAGE_C * rule.actions[up] ** PASSAGE_P / 10.0**log_q > 3e-4
    assert np.all(over | (mu == 0.1))
    assert np.all(np.diff(mu) <= 0) and mu[0] == 0.1 and mu[-1] < 1e-2  # deeper passages, smaller mu
    # no passage near (q = 1000 AU), or one too far ahead or too long passed: mu = hi
    far = rule(encounter_obs([3.0, -5.0, -5.0, -5.0], [2.0, 1.6, -1.1, 1.5]))
    assert rule.actions[far].tolist() == [0.1, 0.1, 0.1, rule.actions[far[3]]] and rule.actions[far[3]] < 2.2e-2


def test_rules_check_their_arguments():
    with pytest.raises(ValueError, match="horizon"):
        DepthRule(0.1, 3e-4, horizon=5.0)
    with pytest.raises(ValueError, match="budget"):
        DepthRule(0.1, 3.0)
    with pytest.raises(ValueError, match="no action"):
        DepthRule(1e-3, 3e-4)
    with pytest.raises(ValueError, match="lo < hi"):
        ThresholdRule(1e-2, 4.6e-2, 1e-4)
    assert near_passage(encounter_obs([-3.0, -3.0], [0.5, -0.5]), 1.5, 0.0).tolist() == [True, False]


def test_threshold_rule_switches_on_the_accumulated_error():
    rule = ThresholdRule(4.6e-2, 1e-2, 1e-4)
    obs = encounter_obs([3.0, 3.0], [2.0, 2.0])
    obs[:, 12] = [5.0, 3.0]  # -log10 |dE/E0|: 1e-5 (below the threshold), 1e-3 (above)
    assert rule.actions[rule(obs)].tolist() == [4.6e-2, 1e-2]


def residual_config(**kw):
    kw = {"observation": "encounter", "base_rule": {"hi": 0.1, "budget": 3e-4}, "step_options": {"symmetric": 1}, **kw}
    return DQNConfig(**kw)


def test_untrained_residual_agent_is_its_rule():
    cfg = residual_config()
    view = AgentView(cfg)
    pol = Policy(view.network(cfg), cfg)
    assert np.allclose(pol.actions, HALF_NOTCHES) and view.n_in == 19 and view.n_out == 4
    seeds = [1008, 1009, 1010, 1011]
    a = run_controller(seeds, pol, t_end=3.0, step_options={"symmetric": 1})
    b = run_controller(seeds, DepthRule(0.1, 3e-4), t_end=3.0, step_options={"symmetric": 1}, actions=HALF_NOTCHES)
    assert np.array_equal(a["actions"], b["actions"]) and np.array_equal(a["final_error"], b["final_error"])
    assert len(np.unique(a["actions"])) >= 2  # the rule did lower mu near a passage in these runs


def test_residual_agent_maps_offsets_to_actions_and_clips():
    cfg = residual_config(offsets=[-2, 0, 1])
    view = AgentView(cfg)
    x, base = view.inputs(encounter_obs([3.0, -8.0], [2.0, 0.5]))
    assert x.shape == (2, 19) and np.isclose(x[0, 18], -1.0)  # the rule's log10 mu is the last input
    assert HALF_NOTCHES[base[0]] == 0.1 and HALF_NOTCHES[base[1]] < 1e-2
    acts = view.act(np.array([2, 0]), base)  # offsets +1 and -2
    assert HALF_NOTCHES[acts[0]] == 0.15 and acts[1] == max(base[1] - 2, 0)
    assert view.act(np.array([0]), np.array([0]))[0] == 0  # clipped at the smallest mu


def test_residual_agent_can_leave_the_rules_passages_alone():
    # no passage; a deep one due; one passed too long ago; a shallow one due (the rule keeps mu = 0.1)
    obs = encounter_obs([3.0, -4.0, -4.0, -1.0], [2.0, 0.5, -1.5, 0.5])
    rule = DepthRule(0.1, 3e-4)
    assert rule.actions[rule(obs)][[0, 2, 3]].tolist() == [0.1, 0.1, 0.1] and rule.actions[rule(obs)][1] < 0.1
    for keep, free in (("passages", [1, 0, 1, 0]), ("dips", [1, 0, 1, 1]), ("ordinary", [0, 1, 0, 1])):
        view = AgentView(residual_config(offsets=[-1, 0, 1], keep=keep))
        x, base = view.inputs(obs)
        assert np.allclose(10.0 ** x[:, 18], rule.actions[rule(obs)])  # the input is the rule's mu either way
        up = view.act(np.array([2, 2, 2, 2]), base)  # offset +1 everywhere: taken where the agent is free
        assert np.array_equal(np.where(free, up - 1, up), rule(obs)), keep
        assert view.offset(np.array([0, 0, 0, 0]), base).tolist() == [-f for f in free]
    with pytest.raises(ValueError, match="keep"):
        AgentView(residual_config(keep="all"))


def test_residual_config_errors_say_what_to_change():
    with pytest.raises(ValueError, match="encounter"):
        AgentView(DQNConfig(observation="extended", base_rule={"hi": 0.1, "budget": 3e-4}))
    with pytest.raises(ValueError, match="including 0"):
        AgentView(residual_config(offsets=[-1, 1]))
    with pytest.raises(ValueError, match="base_rule"):
        AgentView(DQNConfig(observation="encounter", offsets=[-1, 0, 1]))
    with pytest.raises(ValueError, match="c_offset"):
        AgentView(residual_config(c_offset=-1.0))
    with pytest.raises(ValueError, match="base_rule"):
        AgentView(DQNConfig(c_offset=0.1))
    with pytest.raises(ValueError, match="not among"):
        AgentView(residual_config(actions=[1e-2, 0.1], base_rule={"hi": 0.1, "budget": 3e-4, "actions": [4.6e-2, 0.1]}))


def test_residual_agent_trains_saves_and_loads(tmp_path):
    cfg = residual_config(episodes=2, parallel=2, n_checks=3, batch_size=4, max_substeps=300, seed=0, reward="final")
    pol = train_dqn(cfg, progress=False)
    pol2 = Policy.load(pol.save(tmp_path / "r.pt"))
    assert pol2.config.base_rule == {"hi": 0.1, "budget": 3e-4} and pol2.net.net[0].in_features == 19
    sysb = SystemBatch([0, 1, 2], actions=HALF_NOTCHES)
    obs = sysb.observe("encounter")
    assert np.array_equal(pol(obs), pol2(obs))
    res = run_controller([0, 1], pol2, t_end=0.3, step_options={"symmetric": 1})
    assert res["actions"].shape == (3, 2) and np.allclose(res["action_values"], HALF_NOTCHES)


@pytest.mark.parametrize("name", ["policy_residual.pt", "policy_residual_cem.pt", "policy_residual_cem_b05.pt"])
def test_committed_residual_policies_load_and_run(name):
    from pathlib import Path

    pol = Policy.load(Path(__file__).resolve().parents[2] / "assets" / "nbody" / name)
    assert pol.view.rule is not None and pol.config.keep == "passages" and np.allclose(pol.actions, HALF_NOTCHES)
    res = run_controller([1008, 1009], pol, t_end=0.5, step_options=pol.config.step_options)
    assert res["actions"].shape == (5, 2) and not res["ended_early"].any()


def test_rules_run_on_systems_given_as_meshes():
    from geomsci.nbody import paper_triple
    from geomsci.nbody.initial_conditions import to_mesh

    rule, opts = DepthRule(0.1, 3e-4), {"symmetric": 1}
    a = run_controller([1008, 1009], rule, t_end=3.0, step_options=opts)
    b = run_controller([paper_triple(1008), paper_triple(1009)], rule, t_end=3.0, step_options=opts)
    assert np.array_equal(a["actions"], b["actions"]) and np.array_equal(a["final_error"], b["final_error"])
    # a system of our own: the same triple with heavier bodies (2, 1, 1.5 Msun) runs and stays bounded in error
    m = paper_triple(1008)
    own = to_mesh(m.points.numpy(), m.point_data["velocities"].numpy(), np.array([2.0, 1.0, 1.5]), m.points.dtype, None)
    with pytest.warns(RuntimeWarning, match="centre-of-mass frame"):  # other masses move the centre of mass
        c = run_controller([own], rule, t_end=3.0, step_options=opts)
    assert c["final_error"][0] < 1e-3 and not c["ended_early"].any()
    with pytest.raises(ValueError, match="three-body"):
        run_controller([to_mesh(np.zeros((2, 3)), np.zeros((2, 3)), np.ones(2), m.points.dtype, None)], rule, t_end=0.1)


def test_recorded_run_is_the_integrators_trajectory():
    """record=True: at a constant mu the recorded states are those `integrate` gives at the decision times, bit for
    bit, and the last recorded error is the run's final error."""
    from geomsci.nbody import integrate, paper_triple

    seeds = [1008, 1009]
    res = run_controller(seeds, 0, t_end=0.5, actions=[4.6e-2, 0.1], step_options={"symmetric": 1}, record=True)
    assert res["x"].shape == (6, 2, 3, 3) and res["v"].shape == (6, 2, 3, 3) and res["rel_error"].shape == (6, 2)
    assert np.allclose(res["t"], [0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert np.array_equal(res["rel_error"][-1], res["final_error"]) and np.all(res["rel_error"][0] == 0)
    times = [(k + 1) * 0.1 for k in range(5)]  # the decision times as the evaluator computes them (0.30000000000000004)
    traj = integrate([paper_triple(s) for s in seeds], times, mu=4.6e-2, symmetric=1, progress=False)
    assert np.array_equal(res["x"][1:], traj.x.numpy()) and np.array_equal(res["v"][1:], traj.v.numpy())
    assert "x" not in run_controller(seeds, 0, t_end=0.1, actions=[4.6e-2, 0.1])


def test_a_system_with_nearly_zero_energy_is_flagged():
    """|dE/E0| divides by E0: a triple with E0 ~ 0 (here: light bodies, E0 = -0.0016 |U0|) would end 'early' on a
    tiny absolute error, so SystemBatch says so; the paper's triples (|E0| >= 0.4 |U0|) are never flagged."""
    from geomsci.nbody import paper_triple
    from geomsci.nbody.initial_conditions import to_mesh

    m = paper_triple(174 + 500_000)
    light = np.array([0.50644499, 0.82149097, 0.31868024])
    x, v = m.points.numpy(), m.point_data["velocities"].numpy()
    x, v = x - (light[:, None] * x).sum(0) / light.sum(), v - (light[:, None] * v).sum(0) / light.sum()
    with pytest.warns(RuntimeWarning, match=r"number 1 \(\|E0\| = 1.6e-03 \|U0\|\)"):
        SystemBatch([0, to_mesh(x, v, light, m.points.dtype, None)])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SystemBatch(list(range(64)))


def test_mass_aware_depth_is_the_energy_at_stake():
    """'encounter_mass': log10 q_eff = log10 q + log10(|E0| / (m_i m_j PAPER_ENERGY)). With equal masses the deepest
    pair is the same and the shift is that of |E0| alone; heavier bodies or a smaller |E0| make a passage deeper."""
    from geomsci.nbody import nearest_pericentres, paper_triple
    from geomsci.nbody.env import NO_ENCOUNTER_LOG_Q, PAPER_ENERGY
    from geomsci.nbody.initial_conditions import to_mesh
    from geomsci.nbody.units import G_AU

    sysb = SystemBatch(list(range(1000, 1032)), actions=[4.6e-2, 0.1], step_options={"symmetric": 1})
    shift = np.log10(sysb.E0.abs().numpy() / PAPER_ENERGY)  # (B,)
    assert np.all(np.abs(shift) < 0.4)  # the paper triples' |E0| lie near 5.4
    n_seen = 0
    for _ in range(40):  # 4 yr: passages come
        plain, aware = sysb.nearby_encounter().numpy(), sysb.nearby_encounter(mass_aware=True).numpy()
        seen = (plain[:, 0] < NO_ENCOUNTER_LOG_Q - 1) & (aware[:, 0] < NO_ENCOUNTER_LOG_Q - 1) & (plain[:, 0] > -7)
        assert np.allclose(aware[seen, 0] - plain[seen, 0], shift[seen], atol=1e-6)
        assert np.array_equal(aware[seen, 1], plain[seen, 1])
        assert np.array_equal(sysb.observe("encounter_mass")[:, 16:], aware.astype(np.float32))
        n_seen += int(seen.sum())
        sysb.step(np.zeros(sysb.batch, dtype=np.int64))
    assert n_seen >= 10
    # masses x4 and velocities x2 keep every pair's orbit (q) while m_i m_j and |E0| both grow 16x: q_eff is the same,
    # and the plain depth too; masses x4 alone deepen q_eff by log10 16 minus the change of |E0| (not a pure scaling)
    m = paper_triple(1008)
    x, v = m.points.numpy(), m.point_data["velocities"].numpy()
    systems = [m, to_mesh(x, 2 * v, np.full(3, 4.0), m.points.dtype, None), to_mesh(x, v, np.full(3, 4.0), m.points.dtype, None)]
    trio = SystemBatch(systems, check_step=1000.0)  # a window of 2000 yr: every pair's next passage counts
    assert np.isclose(trio.E0[1].item(), 16 * trio.E0[0].item(), rtol=1e-12)
    a = trio.nearby_encounter(mass_aware=True).numpy()
    q, _ = nearest_pericentres(trio.state.x, trio.state.v, trio.state.m, G_AU)  # (3, 3) AU
    q = q.numpy()
    assert np.allclose(q[1], q[0], rtol=1e-9) and np.isclose(a[1, 0], a[0, 0], atol=1e-9)
    q_eff = q * trio.E0.abs().numpy()[:, None] / (16.0 * PAPER_ENERGY)  # equal masses of 4: m_i m_j = 16
    assert np.allclose(a[1:, 0], np.log10(q_eff[1:].min(axis=1)), atol=1e-9) and a[2, 0] < a[0, 0] - 0.4  # heavier: deeper


def test_mass_aware_rule_reads_its_own_observation():
    rule, plain = DepthRule(0.1, 3e-4, mass_aware=True), DepthRule(0.1, 3e-4)
    assert rule.observation == "encounter_mass" and "m_i m_j" in rule.name and rule.params()["mass_aware"] is True
    assert "mass_aware" not in plain.params()  # policy files written before the option read the same
    obs = encounter_obs([-2.0, -4.0, -6.0], 0.5)
    assert np.array_equal(rule(obs), plain(obs))  # the same law, on the column it is given
    res = run_controller([1008, 1009], rule, t_end=1.0, step_options={"symmetric": 1})
    assert not res["ended_early"].any()
    with pytest.raises(ValueError, match="reads the rule's observation 'encounter_mass'"):
        AgentView(DQNConfig(observation="encounter", base_rule={"hi": 0.1, "budget": 3e-4, "mass_aware": True}))
