"""Step 2b of :mod:`optimiser.search`: screening further constructive starts by a fast round.

The cheapest constructive start is often not the one that leads to the best plan. Up to
:func:`screen_starts` starts (the first plan included) each get the fast round (the fixed-centre
MILP at the strategy's fast gap, the start as MIP start) and its polish; the :data:`PAIRED`
best of them then go through the pair re-optimisation, and the search goes on from the better.
A fixed amount of work: the clock only cuts it short when the budget runs out (recorded).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from optimiser.budget import Strategy
from optimiser.problem import DistrictingProblem

if TYPE_CHECKING:
    from optimiser.search import Search

log = logging.getLogger(__name__)

#: screened starts that also go through the pairs before one is chosen
PAIRED = 2


def screen_starts(problem: DistrictingProblem, strategy: Strategy) -> int:
    """Starts screened by a fast round (step 2b): ``strategy.screen`` up to ~400 units, fewer
    (at least 2) on larger problems, where each round costs more."""
    return 0 if strategy.screen <= 1 else max(2, min(strategy.screen, 2400 // max(problem.n_units, 1)))


def screen(s: Search) -> Search:
    """Step 2b: up to ``screen_starts - 1`` further constructive starts, each through one fast
    round (and its polish) like the first plan; the best :data:`PAIRED` of them also through the
    pairs; the search goes on from the best after the pairs."""
    from optimiser.search import Found, Search, heuristic_report
    from optimiser.search import _pairs as pairs

    screened = [s]
    fast_gap = max(s.strategy.fast_gap or s.mip_rel_gap, s.mip_rel_gap)
    for alt in s.alternatives[: screen_starts(s.problem, s.strategy) - 1]:
        if s.budget.remaining() < 2.0:
            s.budget.bind("screening starts")
            break
        other = Search(s.problem, s.strategy, s.budget, s.solver, s.seed, s.threads, s.mip_rel_gap, s.say, s.rounds,
                       cache=s.cache)
        other.best = Found(alt.labels, alt.centres, alt.objective,
                           heuristic_report(s.problem, alt.objective, "constructive start"), source="start")
        s.say(f"screening a further start (objective {alt.objective:,.0f})")
        out = other.solve(alt.centres, gap=fast_gap, cap_s=s.strategy.round_cap_s, stage="screening starts",
                          start=alt.labels)
        if out.labels is not None:
            other.offer(out.labels, out.centres, out.report, "milp")
        log.info("screening: start %.0f -> %.0f", alt.objective, other.best.objective if other.best else float("nan"))
        screened.append(other)
    screened.sort(key=lambda x: x.best.objective if x.best is not None else float("inf"))  # stable: ties keep order
    for other in screened[:PAIRED]:
        pairs(other)
    kept = min(screened[:PAIRED], key=lambda x: x.best.objective if x.best is not None else float("inf"))
    return kept
