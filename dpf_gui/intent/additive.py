"""The additive intent model: what a person's wish is worth per step, learnt from few marks.

Why not only the paper's LSTM. A person gives 10-30 marks. An LSTM that reads
whole trajectories has one target per trajectory to learn from and must find
out for itself which steps caused the score; with 25 marks it learns little
(docs/RESULTS.md, few labels). Our wishes are about *where the agent goes*, so
the score of a trajectory is, to a good approximation, a sum over the states
it visits. That structure is built in here, in two stages:

1. **Utility** ``u(s')``: the mark a step earns by the state ``s'`` it leads
   to. An ensemble of small MLPs reads the state's features *and* its region
   features (the vocabulary the person's wish is written in: one-hot lanes,
   cells, terrain; binned speeds and heights), and is fitted so that
   ``sum_t u(s_{t+1})`` matches each labelled trajectory's score (Christiano
   et al. 2017; T-REX), or, as the feedback objective says, so that the sums
   order the trajectories as the labels do (:mod:`dpf_gui.intent.objectives`:
   graded scores, binary labels, pairwise comparisons). Each member sees a bootstrap resample of the labelled
   trajectories, and every member is pulled towards ``u = 0`` on stored states
   nobody labelled ("a wish is about a region; elsewhere, nothing"), or a
   little below 0 in places no labelled run reached when the marks are mostly
   about avoiding (:mod:`dpf_gui.intent.unreached`). Marked
   segments, where the feedback has them, add a per-step target, and a
   trajectory marked only in part is summed over its marked decisions
   (:mod:`dpf_gui.intent.partial_marks`).

2. **Intent value** ``Q_u(s, a)``: the wish outcome of taking ``a`` in ``s``.
   One-step utilities make a myopic intent: it vetoes the step into the toll
   road but cannot see the detour, and the fused agent walks back and forth at
   the toll's edge (measured on gridnav). So every member's utility is turned
   into a value by fitted Q iteration on *all* stored transitions (labelled or
   not: no new interaction, no change to the task agent), discount
   ``1 - 1/horizon``. A second head predicts the immediate ``u`` of the next
   state, which dynamic fusion counts as reward collected. With ``time_cost``
   (off by default) each step also costs a little until a successful ending,
   so going round an avoided region is worth more than stepping back and
   forth at its edge (:func:`_fit_value`).

At decision time only ``Q_u`` is needed: one MLP call for all candidate actions
and all members. The members' disagreement is the model's uncertainty: fusion
shrinks each candidate's advantage by it (:meth:`AdditiveIntent.rewards`), so
an intent that knows little leaves the task agent's choice alone.

Units. Scores are divided by ``score_scale`` (their RMS about zero, as for the
LSTM) for training; ``rewards`` and ``immediate`` return score units.
``reward_unit`` (sidecar) is the typical immediate reward of a step the model
is sure about (99th percentile of ``|u|`` over the stored states): dynamic
fusion counts collected reward in these units ("steps in the preferred
region"). ``candidate_spread`` is the RMS advantage between legal candidates,
as for the LSTM.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from dpf_gui.data.labels import Labels
from dpf_gui.data.trajectories import TrajectoryDataset
from dpf_gui.intent.additive_config import (
    BINS,
    MAX_ONE_HOT,
    TERMINAL_RULES,
    AdditiveConfig,
    region_bin_columns,
    region_code,
    region_code_width,
)
from dpf_gui.intent.objectives import (
    Feedback,
    Objective,
    check_pairs,
    feedback,
    resolve,
)
from dpf_gui.intent.partial_marks import step_feedback
from dpf_gui.intent.unreached import marks_say_avoid, next_state_rows, pull_targets
from dpf_gui.rowwise import ReluMLP, numpy_twin, rows_f32, sum_first, sum_last

NAME = "additive"
#: what :meth:`AdditiveIntent.heads` computes with: feature mean and std (float32), score scale, value network
ValueHeads = tuple[np.ndarray, np.ndarray, np.float32, ReluMLP]


# ---------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------
class EnsembleMLP(nn.Module):
    """``members`` independent MLPs evaluated in one batched call: (N, in) -> (members, N, out)."""

    def __init__(self, members: int, n_in: int, n_out: int, hidden: int, zero_last: bool):
        super().__init__()
        dims = [n_in, hidden, hidden, n_out]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for k, (a, b) in enumerate(itertools.pairwise(dims)):
            w = torch.empty(members, a, b)
            bound = 1.0 / math.sqrt(a)  # torch.nn.Linear's default initialisation
            nn.init.uniform_(w, -bound, bound)
            if zero_last and k == len(dims) - 2:
                w.zero_()  # an untrained utility says "neutral" everywhere
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(torch.zeros(members, 1, b)))

    @property
    def members(self) -> int:
        return int(self.weights[0].shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(0).expand(self.members, *x.shape)
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if k < last:
                h = torch.relu(h)
        return h

    def relu_layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(W, b)`` of every layer, W (members, in, out): the ensemble for :class:`~dpf_gui.rowwise.ReluMLP`."""
        return list(zip(self.weights, self.biases, strict=True))

    def l2(self) -> torch.Tensor:
        """Sum of squared weights per member: (members,)."""
        return sum((w ** 2).sum((1, 2)) for w in self.weights)


@dataclass(frozen=True)
class AdditiveArch:
    """Everything needed to rebuild an :class:`AdditiveIntent` (stored in the sidecar)."""

    n_features: int
    n_actions: int
    n_code: int  # width of the region code
    members: int = 8
    hidden: int = 64

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AdditiveArch:
        return cls(**{k: int(d[k]) for k in ("n_features", "n_actions", "n_code", "members", "hidden")})


class AdditiveIntent(nn.Module):
    """Utility ensemble u(s') and intent-value ensemble Q_u(s, .), with their input standardisation."""

    kind = NAME

    def __init__(self, arch: AdditiveArch):
        super().__init__()
        self.arch = arch
        f, a = arch.n_features, arch.n_actions
        self.utility = EnsembleMLP(arch.members, f + arch.n_code, 1, arch.hidden, zero_last=True)
        self.value = EnsembleMLP(arch.members, f, 2 * a, arch.hidden, zero_last=True)
        self.register_buffer("feat_mean", torch.zeros(f))
        self.register_buffer("feat_std", torch.ones(f))
        self.register_buffer("score_scale", torch.ones(()))

    def set_normalisation(self, feat_mean: np.ndarray, feat_std: np.ndarray, score_scale: float) -> None:
        std = np.where(np.asarray(feat_std) > 1e-6, feat_std, 1.0)
        self.feat_mean.copy_(torch.as_tensor(np.asarray(feat_mean), dtype=torch.float32))
        self.feat_std.copy_(torch.as_tensor(std, dtype=torch.float32))
        self.score_scale.fill_(float(score_scale))

    def standardise(self, features: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(features, dtype=np.float32))
        return (x - self.feat_mean) / self.feat_std

    @torch.no_grad()
    def utilities(self, features: np.ndarray, code: np.ndarray) -> np.ndarray:
        """u(s) of states (N, F) with region code (N, C): (members, N), normalised units."""
        x = torch.cat([self.standardise(features), torch.as_tensor(code)], dim=1)
        return self.utility(x)[..., 0].numpy()

    def heads(self, features: np.ndarray, weights: ValueHeads | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(immediate, value) of every action in states (N, F): each (members, N, A), score units.

        The same for a state whatever batch it comes in (:func:`~dpf_gui.rowwise.rows_f32`); numpy on
        a copy of the weights (``weights``, default: the current ones, :func:`~dpf_gui.rowwise.numpy_twin`),
        the arithmetic of :meth:`standardise` and ``value`` rounded as the torch modules do, without
        torch's per-call cost.
        """
        mean, std, scale, value = weights if weights is not None else self.value_heads()
        x = (np.atleast_2d(np.asarray(features, dtype=np.float32)) - mean) / std
        out = rows_f32(value, x) * scale
        a = self.arch.n_actions
        return out[..., :a].astype(np.float64), out[..., a:].astype(np.float64)

    def rewards(self, features: np.ndarray, legal: np.ndarray | None = None,
                confidence: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Gated intent advantages (A,) and immediate rewards (A,) of one state: :meth:`rewards_rows` of one row."""
        gated, immediate = self.rewards_rows(np.asarray(features, dtype=np.float32).reshape(1, -1),
                                             None if legal is None else np.asarray(legal, dtype=bool).reshape(1, -1),
                                             confidence)
        return gated[0], immediate[0]

    def value_heads(self) -> ValueHeads:
        """The current weights :meth:`heads` computes with (a copy, made again when they change)."""
        return numpy_twin(self, _value_heads)

    def rewards_rows(self, features: np.ndarray, legal: np.ndarray | None = None,
                     confidence: float = 1.0, weights: ValueHeads | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Gated intent advantages (N, A) and immediate rewards (N, A) of states (N, F), score units.

        Each candidate's advantage over the legal mean is averaged over the
        members and shrunk towards 0 by ``confidence`` times its standard
        deviation across members (soft thresholding): where the members
        disagree, the intent has no say. Illegal actions get ``-inf``. Sums
        run left to right (:mod:`dpf_gui.rowwise`), so a state's rewards do not
        depend on the other states in the batch.
        """
        immediate, value = self.heads(features, weights)  # (members, N, A)
        members = value.shape[0]
        legal = np.ones(value.shape[1:], bool) if legal is None else np.asarray(legal, dtype=bool)
        legal_mean = sum_last(np.where(legal, value, 0.0)) / legal.sum(-1)
        adv = value - legal_mean[..., None]
        mean = sum_first(adv) / members
        std = np.sqrt(sum_first((adv - mean) ** 2) / members)
        gated = np.sign(mean) * np.maximum(np.abs(mean) - float(confidence) * std, 0.0)
        gated[~legal] = -np.inf
        return gated, sum_first(immediate) / members

    @torch.no_grad()
    def predict(self, features: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """g_t along one trajectory (T,), score units: the running sum of immediate rewards of the actions taken.

        The same reading of a trajectory the LSTM gives (its predicted score after every prefix), so the
        Annotate timeline and the Train tab's fit work for both kinds.
        """
        t = len(actions)
        if t == 0:
            return np.zeros(0, dtype=np.float32)
        immediate, _ = self.heads(np.asarray(features[:t], dtype=np.float32))
        r = immediate.mean(0)[np.arange(t), np.asarray(actions, dtype=np.int64)]
        return np.cumsum(r).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        return {"type": "additive-ensemble", **self.arch.to_dict()}


def _value_heads(model: AdditiveIntent) -> ValueHeads:
    """What :meth:`AdditiveIntent.heads` needs, in numpy: feature mean and std (float32), score scale, value net."""
    return (model.feat_mean.detach().numpy().copy(), model.feat_std.detach().numpy().copy(),
            np.float32(model.score_scale.item()), ReluMLP(model.value.relu_layers()))


class AdditiveStepper:
    """The intent's side of ``rows`` episodes for :class:`~dpf_gui.fusion.FusedAgent`: stateless per decision.

    The same row interface as :class:`~dpf_gui.intent.stepper.IntentStepper` (``*_rows``, ``keep``,
    ``extend``) and its one-episode methods; only the immediate rewards of the last scoring are kept.
    """

    def __init__(self, model: AdditiveIntent, confidence: float = 1.0, rows: int = 1):
        self.model = model.eval()
        self.confidence = float(confidence)
        self.n_actions = model.arch.n_actions
        self._rows = int(rows)
        self.reset()

    def reset(self) -> None:
        """Start new episodes; the model's weights are read now (once per episode, not per decision)."""
        self._weights = self.model.value_heads()
        self._immediate: np.ndarray | None = None
        self.t = 0

    # --- rows --------------------------------------------------------------------
    @property
    def g_prev_rows(self) -> np.ndarray:
        return np.zeros(self._rows)

    def score_rows(self, features: np.ndarray, legal: np.ndarray | None = None) -> np.ndarray:
        """Gated intent advantages (B, A) of every row's state, score units; ``-inf`` where not legal."""
        gated, self._immediate = self.model.rewards_rows(np.asarray(features, dtype=np.float32).reshape(self._rows, -1),
                                                         legal, self.confidence, self._weights)
        return gated

    def realized_rows(self, actions: np.ndarray) -> np.ndarray:
        """Immediate intent reward of each row's action among those just scored (B,), score units."""
        if self._immediate is None:
            return np.zeros(self._rows)
        return self._immediate[np.arange(self._rows), np.asarray(actions, dtype=np.int64)]

    def advance_rows(self, actions: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        r = self.realized_rows(actions)
        self._immediate = None
        self.t += 1
        return r

    def keep(self, mask: np.ndarray) -> None:
        self._rows, self._immediate = int(np.count_nonzero(mask)), None

    def extend(self, other: AdditiveStepper) -> None:
        self._rows, self._immediate = self._rows + other._rows, None

    # --- one episode (one row) -------------------------------------------------
    @property
    def g_prev(self) -> float:
        return 0.0

    @property
    def state(self) -> None:
        return None

    def rewards(self, features: np.ndarray, legal: np.ndarray | None = None) -> np.ndarray:
        return self.score_rows(np.asarray(features)[None], None if legal is None else np.asarray(legal)[None])[0]

    def score_actions(self, features: np.ndarray, legal: np.ndarray | None = None) -> np.ndarray:
        return self.rewards(features, legal)

    def realized(self, action: int) -> float:
        """Immediate intent reward of the action just scored (score units)."""
        return float(self.realized_rows(np.array([action]))[0])

    def advance(self, action: int, features: np.ndarray | None = None) -> float:
        return float(self.advance_rows(np.array([action]))[0])


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------
@dataclass
class AdditiveFit:
    """What :func:`fit_additive` made, before it is saved."""

    model: AdditiveIntent
    score_scale: float
    reward_unit: float
    candidate_spread: float
    oob_pred: np.ndarray  # out-of-bag predicted score per labelled trajectory (NaN where in every bag)
    labelled: np.ndarray  # dataset indices of the labelled trajectories
    interrupted: bool
    steps: int
    objective: str = "score"  # the feedback objective it was fitted with (resolved from the config's)


def fit_additive(dataset: TrajectoryDataset, labels: Labels, idx: np.ndarray, seed: int, cfg: AdditiveConfig,
                 progress: bool = False, should_stop: Callable[[], bool] | None = None,
                 on_stage: Callable[[str, float], None] | None = None) -> AdditiveFit:
    """Fit utility and value ensembles on the labelled trajectories ``idx`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    feats = dataset.features.astype(np.float32)
    region_features = dataset.region_features
    code = region_code(dataset.regions, region_features)
    n_a = int(dataset.legal.shape[1])
    arch = AdditiveArch(n_features=feats.shape[1], n_actions=n_a, n_code=code.shape[1],
                        members=cfg.members, hidden=cfg.hidden)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = AdditiveIntent(arch)
    objective = resolve(cfg.objective, labels)
    fb = feedback(labels, idx)
    if objective.name == "pairs":
        check_pairs(fb)
    score_scale = objective.scale(fb.scores) or 1.0
    model.set_normalisation(feats.mean(0), feats.std(0), score_scale)
    stop = should_stop or (lambda: False)
    bags = _bootstrap_weights(len(idx), cfg.members, seed)
    interrupted = _fit_utility(model, dataset, labels, fb, objective, code, objective.targets(fb.scores, score_scale),
                               bags, cfg, rng, progress, stop)
    if on_stage is not None:
        on_stage("utility", 1.0)
    steps = cfg.utility_steps
    u_mean = model.utilities(feats, code).mean(0)  # the value fit leaves the utility as it is
    if not interrupted:
        cost = cfg.time_cost * _sure_step(u_mean) if cfg.time_cost > 0 and marks_say_avoid(fb.scores) else 0.0
        interrupted = _fit_value(model, dataset, code, cfg, rng, progress, stop, on_stage, cost)
        steps += cfg.value_steps
    model.eval()
    reward_unit = _sure_step(u_mean * score_scale)
    spread = _candidate_spread(model, dataset, rng)
    oob = _out_of_bag(model, dataset, labels, idx, code, score_scale, bags)
    return AdditiveFit(model=model, score_scale=score_scale, reward_unit=reward_unit, candidate_spread=spread,
                       oob_pred=oob, labelled=np.asarray(idx), interrupted=interrupted, steps=steps,
                       objective=objective.name)


def _sure_step(u: np.ndarray) -> float:
    """What a step the utility is sure about is worth: the 99th percentile of ``|u|`` over the stored states."""
    return float(np.quantile(np.abs(u), 0.99)) if len(u) else 0.0


def _bootstrap_weights(n: int, members: int, seed: int) -> np.ndarray:
    """(members, n) multiplicities of a bootstrap resample per member (member 0 sees every trajectory once)."""
    rng = np.random.default_rng([int(seed), 7])
    w = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(members)]).astype(np.float32)
    w[0] = 1.0
    return w


def _fit_utility(model: AdditiveIntent, dataset: TrajectoryDataset, labels: Labels, fb: Feedback,
                 objective: Objective, code: np.ndarray, y: np.ndarray, bags: np.ndarray, cfg: AdditiveConfig,
                 rng: np.random.Generator, progress: bool, stop: Callable[[], bool]) -> bool:
    idx = fb.indices
    rows, owner, step_rows = next_state_rows(dataset, idx)
    feats = dataset.features
    x = torch.cat([model.standardise(feats[rows]), torch.as_tensor(code[rows])], dim=1)
    x_all = torch.cat([model.standardise(feats), torch.as_tensor(code)], dim=1)
    y_t = torch.as_tensor(y, dtype=torch.float32)
    m, n = model.arch.members, len(idx)
    w = torch.as_tensor(bags)
    marked_np, summed_np = (mask[step_rows] for mask in step_feedback(dataset, labels, idx))
    marked, summed = torch.as_tensor(marked_np), torch.as_tensor(summed_np, dtype=torch.float32)
    target = torch.zeros(len(rows))
    if marked_np.any():
        target = torch.as_tensor(np.asarray(labels.marks, dtype=np.float32)[step_rows] / float(model.score_scale))
    below = cfg.unseen_pull / float(model.score_scale) if marks_say_avoid(fb.scores) else 0.0
    pull_to = torch.as_tensor(pull_targets(code, rows, dataset.region_features, below))
    starts = np.concatenate([[0], np.cumsum(dataset.lengths[idx])]).astype(np.int64)
    per_step = max(1, min(n, int(n * cfg.utility_rows / max(len(rows), 1))))  # trajectories per step
    opt = torch.optim.Adam(model.utility.parameters(), lr=cfg.utility_lr, eps=cfg.adam_eps)
    bar = tqdm(range(cfg.utility_steps), desc="intent utility", unit="step", disable=not progress, leave=False)
    for _ in bar:
        if stop():
            return True
        if per_step < n:  # many labels: a random subset of whole trajectories (their sums need every step)
            sel = np.sort(rng.choice(n, size=per_step, replace=False))
            r = np.concatenate([np.arange(starts[k], starts[k + 1]) for k in sel])
            local = np.repeat(np.arange(len(sel)), starts[sel + 1] - starts[sel])
        else:
            sel, r, local = np.arange(n), np.arange(len(rows)), owner
        u = model.utility(x[r])[..., 0]  # (members, steps)
        wb = w[:, sel]
        sums = torch.zeros(m, len(sel)).index_add_(1, torch.as_tensor(local), u * summed[r])
        loss = objective.loss(sums, y_t, fb, sel, wb)
        pick = torch.as_tensor(rng.integers(0, len(x_all), cfg.neutral_samples))
        pulled = model.utility(x_all[pick])[..., 0] - pull_to[pick]
        loss = loss + cfg.neutral_weight * torch.cat([u, pulled], dim=1).pow(2).mean(1)
        loss = loss + cfg.weight_decay * model.utility.l2()
        mk = marked[r]
        if mk.any():  # marked segments: per-step targets, weighted like their trajectory in each member's bag
            sw = wb[:, torch.as_tensor(local)[mk]]
            loss = loss + cfg.segment_weight * ((u[:, mk] - target[r][mk]) ** 2 * sw).sum(1) / sw.sum(1).clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
    return False


def _transitions(dataset: TrajectoryDataset, limit: int, rng: np.random.Generator):
    """Stored transitions (state row, action, next-state row, next is terminal, next is a successful ending),
    a seeded subsample of ``limit``."""
    lengths = dataset.lengths.astype(np.int64)
    starts = dataset._state_offsets[:-1]
    n = int(lengths.sum())
    traj = np.repeat(np.arange(len(lengths)), lengths)
    t = np.arange(n) - np.repeat(dataset._step_offsets[:-1], lengths)
    s_rows = starts[traj] + t
    done = (t == lengths[traj] - 1) & np.asarray(dataset.terminated, dtype=bool)[traj]
    won = done & np.asarray(dataset.success, dtype=bool)[traj]
    actions = dataset.actions.astype(np.int64)
    if n > limit:
        pick = np.sort(rng.choice(n, size=limit, replace=False))
        s_rows, actions, done, won = s_rows[pick], actions[pick], done[pick], won[pick]
    return s_rows, actions, s_rows + 1, done, won


def _fit_value(model: AdditiveIntent, dataset: TrajectoryDataset, code: np.ndarray, cfg: AdditiveConfig,
               rng: np.random.Generator, progress: bool, stop: Callable[[], bool],
               on_stage: Callable[[str, float], None] | None, cost: float = 0.0) -> bool:
    """Fitted Q iteration of every member's utility on the stored transitions (target network, Polyak).

    After a step that ends the episode (a goal, a crash, a point) ``terminal="end"`` counts nothing more,
    so an intent with positive utilities around learns to veto the ending (gridnav: the fused agent
    stepped back and forth beside the goal for the rest of the episode). ``"stay"`` counts the value of
    the state the step left instead, as if the agent could stay there: ending becomes neither better
    nor worse than going on, and the decision to end stays with the task agent.

    ``cost`` (normalised units, ``time_cost`` of a sure step's utility) is taken from every step's reward until
    a *successful* ending, which counts nothing after it; a failed ending never saves it (it "stays", or with
    ``terminal="end"`` counts as paying it forever). Under the max over next actions, stepping back from an
    avoided region and never entering it is otherwise worth exactly as much as going round it; with the cost,
    the way that ends sooner is worth more (docs/EXPERIMENTS.md, section 80). Data with no successful ending
    (highway: success is the time limit) would only shift every value alike, so there it is left out."""
    s_rows, actions, n_rows, done, won = _transitions(dataset, cfg.max_transitions, rng)
    if not won.any():
        cost = 0.0
    if cost > 0:  # "end" after a successful ending, the terminal rule after a failed one
        done = done & ~won
    feats = dataset.features
    stay = cfg.terminal == "stay"
    legal_here = torch.as_tensor(dataset.legal[s_rows]) if stay else None
    with torch.no_grad():
        x_next = torch.cat([model.standardise(feats[n_rows]), torch.as_tensor(code[n_rows])], dim=1)
        reward = model.utility(x_next)[..., 0]  # (members, R): normalised units
    s = model.standardise(feats[s_rows])
    s_next = model.standardise(feats[n_rows])
    legal_next = torch.as_tensor(dataset.legal[n_rows])
    a_t = torch.as_tensor(actions)
    cont = torch.as_tensor(~done | stay, dtype=torch.float32) * cfg.gamma
    if cost > 0:
        cont = cont * torch.as_tensor(~won, dtype=torch.float32)
    # what a step costs: the cost, and after a failed ending under "end" the cost paid forever after
    step_cost = cost + torch.as_tensor(done & (not stay), dtype=torch.float32) * (cost * cfg.gamma / (1 - cfg.gamma))
    done_t = torch.as_tensor(done)
    n_a = model.arch.n_actions
    target = EnsembleMLP(model.arch.members, model.arch.n_features, 2 * n_a, model.arch.hidden, zero_last=True)
    target.load_state_dict(model.value.state_dict())
    opt = torch.optim.Adam(model.value.parameters(), lr=cfg.value_lr, eps=cfg.adam_eps)
    m = model.arch.members
    bar = tqdm(range(cfg.value_steps), desc="intent value", unit="step", disable=not progress, leave=False)
    for step in bar:
        if stop():
            return True
        b = torch.as_tensor(rng.integers(0, len(s_rows), cfg.batch_size))
        with torch.no_grad():
            q_next = target(s_next[b])[..., n_a:].masked_fill(~legal_next[b].unsqueeze(0), -1e9).max(2).values
            if stay and done_t[b].any():
                q_here = target(s[b])[..., n_a:].masked_fill(~legal_here[b].unsqueeze(0), -1e9).max(2).values
                q_next = torch.where(done_t[b].unsqueeze(0), q_here, q_next)
            y = reward[:, b] - step_cost[b] + cont[b] * q_next
        out = model.value(s[b])
        pick = a_t[b].view(1, -1, 1).expand(m, -1, 1)
        q = out[..., n_a:].gather(2, pick)[..., 0]
        r0 = out[..., :n_a].gather(2, pick)[..., 0]
        loss = ((q - y) ** 2).mean() + ((r0 - reward[:, b]) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for p, pt in zip(model.value.parameters(), target.parameters(), strict=True):
                pt.mul_(1 - cfg.target_tau).add_(cfg.target_tau * p)
        if on_stage is not None and step % 200 == 0:
            on_stage("value", step / cfg.value_steps)
    return False


def _candidate_spread(model: AdditiveIntent, dataset: TrajectoryDataset, rng: np.random.Generator,
                      max_states: int = 5000) -> float:
    """RMS over stored decision states of the gated advantages between legal candidates (score units)."""
    rows = rng.choice(len(dataset.features), size=min(max_states, len(dataset.features)), replace=False)
    legal = dataset.legal[rows]
    several = legal.sum(1) > 1
    rows, legal = rows[several], legal[several]
    if not len(rows):
        return 0.0
    _, value = model.heads(dataset.features[rows])
    lm = np.where(legal[None], value, np.nan)
    adv = value - np.nanmean(lm, axis=2, keepdims=True)
    mean, std = adv.mean(0), adv.std(0)
    gated = np.sign(mean) * np.maximum(np.abs(mean) - std, 0.0)
    gated = np.where(legal, gated, np.nan)
    gated = gated - np.nanmean(gated, axis=1, keepdims=True)
    return float(np.sqrt(np.nanmean(gated ** 2)))


def _out_of_bag(model: AdditiveIntent, dataset: TrajectoryDataset, labels: Labels, idx: np.ndarray,
                code: np.ndarray, score_scale: float, bags: np.ndarray) -> np.ndarray:
    """Per labelled trajectory: the mean predicted score (over the decisions its score sums) over the members
    that did not train on it."""
    rows, owner, step_rows = next_state_rows(dataset, idx)
    u = model.utilities(dataset.features[rows], code[rows]) * step_feedback(dataset, labels, idx)[1][step_rows]
    sums = np.zeros((u.shape[0], len(idx)))
    np.add.at(sums.T, owner, u.T)
    out = bags == 0
    with np.errstate(invalid="ignore"):
        pred = np.where(out.any(0), (sums * out).sum(0) / np.maximum(out.sum(0), 1), np.nan)
    return pred * score_scale


__all__ = [
    "BINS",
    "MAX_ONE_HOT",
    "NAME",
    "TERMINAL_RULES",
    "AdditiveArch",
    "AdditiveConfig",
    "AdditiveFit",
    "AdditiveIntent",
    "AdditiveStepper",
    "fit_additive",
    "region_bin_columns",
    "region_code",
    "region_code_width",
]
