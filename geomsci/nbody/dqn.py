"""A compact deep Q-network (Mnih et al. 2015, with the double-DQN target of van Hasselt et al. 2016).

Pieces: `QNetwork` (MLP observation -> one Q value per action), `ReplayBuffer` (uniform
sampling), `train_dqn` (epsilon-greedy rollouts of B systems at once, Huber TD loss, soft target
update), `Policy` (greedy, batched, save/load).

A *residual* agent (``DQNConfig.base_rule``) starts from a hand-written rule instead of from nothing
(residual policy learning: Silver et al. 2018, Johannink et al. 2019): `DepthRule` proposes an action
index, the network sees the observation plus the rule's log10 mu and picks an offset from ``offsets``
(half notches of `HALF_NOTCHES` by default), and the action is the rule's index plus the offset. Its
last layer starts at zero with a small bias towards offset 0, so the untrained agent *is* the rule and
exploration happens around it; the agent only has to learn where the rule is wasteful or unsafe.

Exploration decays across episodes and is never reset: after e finished episodes,

    eps(e) = eps_end + (eps_start - eps_end) * exp(-e / eps_decay)

(the paper's code restarted the decay every episode). Training systems come from
`TRAIN_SEEDS`, disjoint from the test seeds 0-99.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .env import ACTIONS, OBSERVATIONS, TRAIN_SEEDS, SystemBatch, check_actions, compute_reward
from .integrators import StepRule
from .rules import HALF_NOTCHES, DepthRule, near_passage

OBS_SCALE = 0.1  # the -log10 error feature (0..16) is scaled to O(1); positions/velocities already are
ERR_INDEX = 12  # position of the -log10 |dE/E0| feature in both observation kinds
DEFAULT_OFFSETS = (-2, -1, 0, 1)  # a residual agent's choices, in action indices relative to the base rule's
KEEP = (None, "dips", "passages", "ordinary")  # where a residual agent leaves the rule's choice alone (see DQNConfig.keep)


class QNetwork(nn.Module):
    """MLP: observation (B, obs_dim) -> Q values (B, n_actions)."""

    def __init__(self, obs_dim: int = 13, n_actions: int = len(ACTIONS), hidden: int = 64, layers: int = 2):
        super().__init__()
        dims = [obs_dim] + [hidden] * layers
        mods = []
        for i in range(layers):
            mods += [nn.Linear(dims[i], dims[i + 1]), nn.ReLU()]
        mods.append(nn.Linear(dims[-1], n_actions))
        self.net = nn.Sequential(*mods)
        scale = torch.ones(obs_dim)
        scale[min(ERR_INDEX, obs_dim - 1)] = OBS_SCALE
        self.register_buffer("scale", scale)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs.clamp(-100, 100) * self.scale)


class ReplayBuffer:
    """Ring buffer of transitions (obs, action, reward, next_obs, done) as tensors."""

    def __init__(self, capacity: int, obs_dim: int, generator: torch.Generator):
        self.obs = torch.zeros(capacity, obs_dim)
        self.next_obs = torch.zeros(capacity, obs_dim)
        self.action = torch.zeros(capacity, dtype=torch.long)
        self.reward = torch.zeros(capacity)
        self.done = torch.zeros(capacity)
        self.capacity, self.size, self.pos, self.gen = capacity, 0, 0, generator

    def add(self, obs, action, reward, next_obs, done) -> None:
        for o, a, r, n, d in zip(obs, action, reward, next_obs, done):
            i = self.pos
            self.obs[i], self.action[i], self.reward[i] = torch.as_tensor(o), int(a), float(r)
            self.next_obs[i], self.done[i] = torch.as_tensor(n), float(d)
            self.pos = (self.pos + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def sample(self, n: int):
        idx = torch.randint(0, self.size, (n,), generator=self.gen)
        return self.obs[idx], self.action[idx], self.reward[idx], self.next_obs[idx], self.done[idx]


@dataclass
class DQNConfig:
    """Training settings (defaults: small, single-threaded CPU budget)."""

    episodes: int = 160
    parallel: int = 8  # systems rolled out at once (one 'round' = `parallel` episodes)
    n_checks: int = 200  # 0.1-yr intervals per training episode (20 yr)
    integrator: str = "hermite"
    reward: str = "cost"
    lam: float = 4.0
    observation: str = "paper"  # 'paper' (13 numbers), 'extended' (16), 'encounter' or 'encounter_mass' (18; see env.py)
    c_switch: float = 0.5  # per-notch charge of the 'steady' reward
    stall_charge: bool = True  # a system stopped by max_substeps is terminal and pays the cap for skipped intervals
    hidden: int = 64
    layers: int = 2
    lr: float = 1e-3
    gamma: float = 0.9
    batch_size: int = 128
    buffer: int = 50_000
    updates_per_step: int = 2
    tau: float = 0.01
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay: float = 40.0  # in episodes
    max_substeps: int = 1000  # per 0.1-yr interval; a system needing more ends its episode
    seed: int = 0
    e_lim: float | None = None  # error below which accuracy earns nothing (None: the reward's own, see compute_reward)
    actions: list | None = None  # step parameters to choose from (None: the paper's ten, `env.ACTIONS`)
    step_options: dict | None = None  # options of `evolve` for training rollouts, e.g. {'symmetric': 1}
    base_rule: dict | None = None  # residual agent: the `DepthRule` arguments (e.g. {'hi': 0.1, 'budget': 3e-4})
    offsets: list | None = None  # residual agent: its choices relative to the rule's index (default DEFAULT_OFFSETS)
    c_offset: float = 0.0  # residual agent, training only: charge per index its action is away from the rule's
    keep: str | None = None  # residual agent: where the rule's choice stands: None (nowhere), 'dips', 'passages', 'ordinary'

    def action_values(self) -> np.ndarray:
        """The step parameters the policy chooses from, float64 (n_actions,)."""
        if self.actions is None:
            return check_actions(HALF_NOTCHES) if self.base_rule is not None else ACTIONS
        return check_actions(self.actions)


class AgentView:
    """How a network's outputs become actions: directly, or as offsets from a base rule's choice (residual).

    ``inputs(obs)`` -> (network input (B, n_in) float32, base index (B,) or None); ``act(k, base)`` -> action
    indices (B,) for network choices k (B,); ``n_in`` / ``n_out``: the network's input and output sizes.
    """

    def __init__(self, cfg: DQNConfig):
        self.actions = cfg.action_values()
        self.n_in = OBSERVATIONS[cfg.observation]
        self.rule, self.keep = None, cfg.keep
        if self.keep not in KEEP:
            raise ValueError(f"keep must be one of {KEEP}, got {self.keep!r}")
        if not (np.isfinite(cfg.c_offset) and cfg.c_offset >= 0):
            raise ValueError(f"c_offset is a charge per index away from the rule, >= 0, got {cfg.c_offset}")
        if cfg.base_rule is None:
            if cfg.c_offset:
                raise ValueError("c_offset charges a residual agent for leaving its rule: give base_rule too (--base-rule)")
            if cfg.offsets is not None:
                raise ValueError(
                    "offsets are the choices of a residual agent: give base_rule too (--base-rule on the command line)"
                )
            self.n_out = len(self.actions)
            return
        self.rule = DepthRule(**{"actions": self.actions, **cfg.base_rule})
        if cfg.observation != self.rule.observation:
            raise ValueError(
                f"a residual agent on DepthRule reads the rule's observation {self.rule.observation!r}, got {cfg.observation!r}"
            )
        missing = [a for a in self.rule.actions if not np.isclose(self.actions, a, rtol=1e-9).any()]
        if missing:
            raise ValueError(
                f"the base rule's step parameters {missing} are not among the agent's actions {self.actions.tolist()}"
            )
        self.rule_to_action = np.array([int(np.argmin(np.abs(self.actions - a))) for a in self.rule.actions])
        self.offsets = np.asarray(DEFAULT_OFFSETS if cfg.offsets is None else cfg.offsets, dtype=np.int64)
        if self.offsets.size < 2 or len(set(self.offsets.tolist())) != self.offsets.size or 0 not in self.offsets:
            raise ValueError(
                f"offsets must be distinct integers including 0 (the rule's own choice), got {self.offsets.tolist()}"
            )
        self.n_in, self.n_out = self.n_in + 1, self.offsets.size

    def inputs(self, obs: np.ndarray):
        obs = np.asarray(obs, dtype=np.float32)
        if self.rule is None:
            return obs, None
        base = self.rule_to_action[self.rule(obs)]  # (B,) index into self.actions
        if self.keep is not None:  # where the rule's choice stands, -1 - base marks it
            if self.keep == "passages":  # every interval near a passage, as the rule sees one
                stands = near_passage(obs, self.rule.horizon, self.rule.hold)
            elif self.keep == "ordinary":  # every interval away from passages: the agent only acts near one
                stands = ~near_passage(obs, self.rule.horizon, self.rule.hold)
            else:  # 'dips': where the rule lowers mu below its largest
                stands = self.actions[base] < self.rule.actions[-1]
            base = np.where(stands, -1 - base, base)
        feat = np.log10(self.actions[self.rule_index(base)]).astype(np.float32)[:, None]
        return np.concatenate([obs, feat], axis=1), base

    def offset(self, k: np.ndarray, base) -> np.ndarray:
        """(B,) the offsets the choices k make, 0 where the rule's choice stands."""
        return np.where(base < 0, 0, self.offsets[np.asarray(k)])

    def act(self, k: np.ndarray, base) -> np.ndarray:
        if base is None:
            return np.asarray(k, dtype=np.int64)
        return np.clip(self.rule_index(base) + self.offset(k, base), 0, len(self.actions) - 1)

    @staticmethod
    def rule_index(base: np.ndarray) -> np.ndarray:
        """(B,) the rule's action index, whether or not its choice is marked as standing."""
        return np.where(base < 0, -1 - base, base)

    def network(self, cfg: DQNConfig) -> QNetwork:
        net = QNetwork(obs_dim=self.n_in, n_actions=self.n_out, hidden=cfg.hidden, layers=cfg.layers)
        if self.rule is not None:  # start as the rule: equal zero Q values but for a nudge towards offset 0
            last = net.net[-1]
            with torch.no_grad():
                last.weight.zero_()
                last.bias.zero_()
                last.bias[int(np.flatnonzero(self.offsets == 0)[0])] = 1e-3
        return net


class Policy:
    """Greedy policy of a trained `QNetwork`: ``policy(obs (B, obs_dim)) -> action indices (B,)``.

    ``policy.observation`` names the observation kind it expects ('paper' or 'extended').
    """

    def __init__(self, net: QNetwork, config: DQNConfig | None = None, history: dict | None = None):
        self.net, self.config, self.history = net.eval(), config or DQNConfig(), history or {}
        self.observation = self.config.observation
        self.view = AgentView(self.config)
        self.actions = self.view.actions  # the step parameter of each action index

    @torch.no_grad()
    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x, base = self.view.inputs(obs)
        q = self.net(torch.as_tensor(x))
        return self.view.act(q.argmax(dim=1).cpu().numpy(), base)

    def save(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": self.net.state_dict(), "config": asdict(self.config), "history": self.history}, path)
        return path

    @classmethod
    def load(cls, path) -> Policy:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"policy file {path} does not exist")
        try:  # weights_only: a policy file holds tensors and plain containers, nothing to execute
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ValueError(
                f"{path} is not a policy file from `geomsci nbody train` (torch.load could not read it as a "
                f"checkpoint of tensors: {type(e).__name__})"
            ) from None
        if not isinstance(blob, dict) or not {"state_dict", "config"} <= set(blob):
            keys = sorted(blob)[:6] if isinstance(blob, dict) else type(blob).__name__
            raise ValueError(
                f"{path} is not a policy file from `geomsci nbody train`: it holds {keys}, "
                "a policy holds 'state_dict' and 'config'"
            )
        # files from before these fields existed: paper observation, no stall charge
        cfg = DQNConfig(**{"observation": "paper", "stall_charge": False, **blob["config"]})
        net = AgentView(cfg).network(cfg)
        net.load_state_dict(blob["state_dict"])
        return cls(net, cfg, blob.get("history"))


def epsilon(episode: int, cfg: DQNConfig) -> float:
    """Exploration rate after ``episode`` finished episodes (decays across episodes)."""
    return cfg.eps_end + (cfg.eps_start - cfg.eps_end) * math.exp(-episode / cfg.eps_decay)


def train_dqn(cfg: DQNConfig | None = None, progress: bool = True) -> Policy:
    """Train a DQN on `TimeStepEnv`-equivalent rollouts of ``cfg.parallel`` systems at a time (default: ``DQNConfig()``)."""
    cfg = DQNConfig() if cfg is None else cfg
    if cfg.episodes < 1 or cfg.parallel < 1:
        raise ValueError(f"train_dqn: episodes and parallel must be >= 1, got {cfg.episodes}, {cfg.parallel}")
    if not 0 <= cfg.eps_end <= cfg.eps_start <= 1:
        raise ValueError(f"train_dqn: need 0 <= eps_end <= eps_start <= 1, got eps_start={cfg.eps_start}, eps_end={cfg.eps_end}")
    if cfg.observation not in OBSERVATIONS:
        raise ValueError(f"train_dqn: observation must be one of {tuple(OBSERVATIONS)}, got {cfg.observation!r}")
    view = AgentView(cfg)
    actions = view.actions
    StepRule(cfg.integrator, **(cfg.step_options or {})).check()  # a bad option fails before any training
    torch.manual_seed(cfg.seed)  # network initialisation
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net, target = view.network(cfg), view.network(cfg)
    target.load_state_dict(net.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    buf = ReplayBuffer(cfg.buffer, view.n_in, gen)
    history = {"episode_return": [], "final_error": [], "n_force": [], "epsilon": []}
    done_episodes = 0
    bar = tqdm(total=cfg.episodes, disable=not progress, desc="dqn episodes")
    while done_episodes < cfg.episodes:
        seeds = rng.choice(len(TRAIN_SEEDS), size=cfg.parallel, replace=False) + TRAIN_SEEDS.start
        sysb = SystemBatch(
            seeds, integrator=cfg.integrator, max_substeps=cfg.max_substeps, actions=actions, step_options=cfg.step_options
        )
        eps = epsilon(done_episodes, cfg)
        obs, base = view.inputs(sysb.observe(cfg.observation))
        ret = np.zeros(cfg.parallel)
        for k in range(cfg.n_checks):
            running = ~sysb.done.numpy()
            with torch.no_grad():
                greedy = net(torch.as_tensor(obs)).argmax(1).numpy()
            explore = rng.random(cfg.parallel) < eps
            choice = np.where(explore, rng.integers(view.n_out, size=cfg.parallel), greedy)
            out = sysb.step(view.act(choice, base))
            rew = compute_reward(cfg.reward, out, lam=cfg.lam, e_lim=cfg.e_lim, c_switch=cfg.c_switch)
            if base is not None and cfg.c_offset:  # keeps the agent at the rule unless leaving it clearly pays
                rew = rew - cfg.c_offset * np.abs(view.offset(choice, base))
            # a system that hits the per-interval step cap stops; without a charge that stop would be a
            # way to escape all further cost (small mu -> stall -> free), so it is terminal and is
            # charged the cap for every interval it skips (at most 100, like an early end)
            term = out["ended_early"]
            if cfg.stall_charge:
                stall_cost = cfg.lam * cfg.max_substeps / 1000.0 * (cfg.n_checks - k - 1)
                rew = rew - np.where(out["stalled"], min(stall_cost, 100.0), 0.0)
                term = term | out["stalled"]
            nobs, base = view.inputs(sysb.observe(cfg.observation))
            m = running
            buf.add(obs[m], choice[m], rew[m], nobs[m], term[m])
            ret += np.where(m, rew, 0.0)
            obs = nobs
            if buf.size >= cfg.batch_size:
                for _ in range(cfg.updates_per_step):
                    _update(net, target, opt, buf, cfg)
            if sysb.done.all():
                break
        done_episodes += cfg.parallel
        history["episode_return"] += ret.tolist()
        history["final_error"] += sysb.rel_error.numpy().tolist()
        history["n_force"] += sysb.state.n_force.numpy().tolist()
        history["epsilon"] += [eps] * cfg.parallel
        bar.update(cfg.parallel)
        bar.set_postfix(eps=f"{eps:.2f}", ret=f"{ret.mean():.1f}", err=f"{np.median(sysb.rel_error.numpy()):.1e}")
    bar.close()
    return Policy(net, cfg, history)


def _update(net, target, opt, buf, cfg: DQNConfig) -> float:
    o, a, r, n, d = buf.sample(cfg.batch_size)
    q = net(o).gather(1, a[:, None])[:, 0]
    with torch.no_grad():
        a_next = net(n).argmax(1, keepdim=True)  # double DQN: online net picks, target net scores
        y = r + cfg.gamma * (1.0 - d) * target(n).gather(1, a_next)[:, 0]
    loss = nn.functional.smooth_l1_loss(q, y)
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), 10.0)
    opt.step()
    with torch.no_grad():
        for p, tp in zip(net.parameters(), target.parameters()):
            tp.mul_(1 - cfg.tau).add_(cfg.tau * p)
    return loss.item()
