"""A wall-clock budget shared by the stages of one run, and the design strategies.

Work limits decide the plan (rounds, starts, the MIP gap per round); the clock is a safety
net. :class:`Budget` records when the clock, rather than the work limits, ended a stage, so
every output can say that the plan may depend on the machine's speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal


@dataclass
class Budget:
    """``total_s`` seconds from creation; ``binding`` lists the stages the clock cut short."""

    total_s: float
    started: float = field(default_factory=time.perf_counter)
    binding: list[str] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def remaining(self) -> float:
        return self.total_s - self.elapsed()

    def cap(self, seconds: float | None, *, floor_s: float = 0.5) -> float:
        """``seconds`` (or whatever is left, if less), never below ``floor_s``."""
        left = max(self.remaining(), floor_s)
        return left if seconds is None else max(min(seconds, left), floor_s)

    def bind(self, stage: str) -> None:
        """Record that the clock, not a work limit, ended ``stage``."""
        if stage not in self.binding:
            self.binding.append(stage)


@dataclass(frozen=True)
class Strategy:
    """How :func:`optimiser.districting.design_zones` searches.

    ``start``: ``"constructive"`` (region growing + repair + local search, best of ``n_starts``
    seedings) or ``"kmedoids"`` (round 1 from k-medoids centres, the method before issue 12).
    ``fast_gap``, ``fast_rounds``: MIP relative gap and number of the first re-centring rounds;
    ``round_cap_s``: safety cap per round (None: half the budget); ``local_search``: polish
    between rounds; ``exact_rounds``: cycles of pair re-optimisation (``reoptimise``) followed by
    a whole-area round at the caller's gap, repeated while they improve the plan;
    ``exact_small``: solve small problems exactly with free centres (:mod:`optimiser.exact`).
    ``screen``: constructive starts taken through one fast round before the rest of the search
    goes on from the best (at most; fewer on large problems, see :func:`optimiser.search.screen_starts`);
    ``share_capacity``: group re-optimisation sees the branch capacity the other zones leave;
    ``capacity_polish``: the polish tightens zones that end short of branch capacity and
    polishes again (:mod:`optimiser.capacity_polish`); ``triples``: after the pairs, re-optimise
    connected triples of zones too (measured: slow for little gain, off by default);
    ``pair_seedings``: k-medoid seedings per pair (or triple) re-optimised; ``kicks``: ReCom-style
    kicks of the best plan, each followed by the pairs (iterated local search, :mod:`optimiser.kicks`);
    ``mid_seeding``: on mid-size problems too the centres from the relaxation
    (:func:`optimiser.seeding.competing_per_zone`) rival the constructive start in round 1, solved
    to :data:`optimiser.relaxation_start.SEEDED_GAP`; when their plan is the better the screening is skipped.
    ``centre_swaps``: at most this many LPs per cycle of joint centre moves before the kicks (0 = none,
    :mod:`optimiser.centre_swap`). ``keep_start``: at county scale
    (:data:`optimiser.search.KEEP_START_MIN_UNITS`) the whole-area MILP orders its contiguity rows
    so that its MIP start meets them (:func:`optimiser.assignment.start_order`; otherwise HiGHS
    rejects a start that is contiguous but not star-shaped and the round starts from nothing).
    """

    name: str
    start: Literal["constructive", "kmedoids"] = "constructive"
    n_starts: int = 8
    fast_gap: float | None = 0.01
    fast_rounds: int = 0
    round_cap_s: float | None = 20.0
    local_search: bool = True
    exact_rounds: int = 3
    reoptimise: bool = True
    exact_small: bool = True
    share_capacity: bool = False
    triples: bool = False
    capacity_polish: bool = False
    screen: int = 0
    pair_seedings: int = 4
    kicks: int = 0
    mid_seeding: bool = False
    centre_swaps: int = 0
    keep_start: bool = True


#: "fast" before the kicks (issue 12, third part): kept for side-by-side benchmarks
FAST_SCREENED = Strategy(
    "constructive starts (best of 48, several screened by a fast round) + local search within branch capacity "
    "+ pair re-optimisation with shared capacity + exact rounds", n_starts=48, screen=6, share_capacity=True,
    capacity_polish=True,
)
#: "fast" before the relaxation's centres rivalled the constructive start on mid-size problems
#: (issue 12, fourth part): kept for side-by-side benchmarks
FAST_KICKS = Strategy(
    "constructive starts (best of 48, several screened by a fast round) + local search within branch capacity "
    "+ pair re-optimisation with shared capacity + exact rounds + kicks at county scale", n_starts=48, screen=6,
    share_capacity=True, capacity_polish=True, kicks=24,
)
#: "fast" before the joint centre moves (issue 12, fifth part): kept for side-by-side benchmarks
FAST_SEEDED = Strategy(
    "centres from the relaxation against constructive starts (best of 48, several screened by a fast round "
    "when the relaxation's plan is not the better) + local search within branch capacity + pair re-optimisation "
    "with shared capacity + exact rounds + kicks at county scale", n_starts=48, screen=6, share_capacity=True,
    capacity_polish=True, kicks=24, mid_seeding=True,
)
FAST = Strategy(
    "centres from the relaxation against constructive starts (best of 48, several screened by a fast round "
    "when the relaxation's plan is not the better) + local search within branch capacity + pair re-optimisation "
    "with shared capacity + exact rounds + joint centre moves priced by the LP + kicks at county scale",
    n_starts=48, screen=6, share_capacity=True, capacity_polish=True, kicks=24, mid_seeding=True, centre_swaps=600,
)
#: "fast" before the MIP start was kept by the whole-area MILP (issue 12, sixth part): for side-by-side benchmarks
FAST_PLAIN_START = replace(FAST, name=FAST.name + " (a start that is not star-shaped is rejected)", keep_start=False)
#: "fast" before the robust search (issue 12, second part): kept for side-by-side benchmarks
FAST_PREVIOUS = Strategy("constructive start + fast rounds + local search + exact rounds")
CLASSIC = Strategy(
    "k-medoids start + exact rounds (before issue 12)", start="kmedoids", n_starts=0, fast_gap=None,
    round_cap_s=None, local_search=False, exact_rounds=0, reoptimise=False, exact_small=False,
)
STRATEGIES = {"fast": FAST, "fast-plain-start": FAST_PLAIN_START, "fast-seeded": FAST_SEEDED, "fast-kicks": FAST_KICKS, "fast-screened": FAST_SCREENED, "fast-previous": FAST_PREVIOUS, "classic": CLASSIC}
