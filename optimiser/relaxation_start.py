"""Step 1b of :mod:`optimiser.search`: round 1 from the centres of the relaxation
(:mod:`optimiser.seeding`), beside or before the constructive start's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from optimiser.families import move_centres

if TYPE_CHECKING:
    from optimiser.search import Search

#: MIP gap of round 1 from the relaxation's centres on mid-size problems (``Strategy.mid_seeding``):
#: on the default 1e-3 gives the same plan as 1e-4 in half the time, where the fast gap (1%)
#: leaves a plan too poor to compare with the constructive start's
SEEDED_GAP = 1e-3


def relaxation_seeding(s: Search, *, per_zone: int) -> tuple[int, ...] | None:
    """Centres where the relaxation, capacity included, can serve a balanced plan
    (:mod:`optimiser.seeding`; HiGHS only): when no constructive start met every constraint,
    and on small (and, with ``Strategy.mid_seeding``, mid-size) problems as a rival to the
    constructive start. Mid-size problems get a third of the time left instead of a quarter: the
    seeding's 1,000 iterations of the bound take ~4 s on the default."""
    from optimiser.seeding import MID_PER_ZONE, applicable, relaxation_centres

    if s.solver.lower() != "highs" or not applicable(s.problem) or s.budget.remaining() < 4.0:
        return None
    s.say("seeding centres from the relaxation")
    share = 3 if per_zone == MID_PER_ZONE else 4
    seeding = relaxation_centres(s.problem, per_zone=per_zone, time_limit_s=min(20.0, s.budget.remaining() / share))
    if seeding is not None and seeding.time_limited:
        s.budget.bind("relaxation seeding")
    return None if seeding is None else move_centres(s.problem, seeding.centres)


def compete(s: Search, seeded: tuple[int, ...] | None, *, gap: float, cap: float) -> bool:
    """Round 1 from the relaxation's centres as well; the better plan goes on to the rounds.
    True when it gave the best plan."""
    if seeded is None or s.budget.remaining() < 2.0:
        return False
    s.say("round 1 from the relaxation's centres")
    out = s.solve(seeded, gap=gap, cap_s=cap, stage="round 1")
    return out.labels is not None and s.offer(out.labels, out.centres, out.report, "milp")


def seed_from_relaxation(s: Search, centre_sets: list[tuple[int, ...]], tried: list[str]) -> tuple[int, ...] | None:
    """Step 1b: the relaxation's centres, where they compete (or no constructive start met every
    constraint). Without a plan yet they go first into ``centre_sets`` (None returned); on
    mid-size problems their round 1 is solved now, at :data:`SEEDED_GAP` (``s.seeded_won``
    says whether it beat the start; None returned); otherwise they are returned, for round 1 to
    compete after the start's."""
    from optimiser.seeding import MID_PER_ZONE, competing_per_zone

    per_zone = competing_per_zone(s.problem, mid=s.strategy.mid_seeding)
    if s.best is not None and per_zone is None:
        return None
    seeded = relaxation_seeding(s, per_zone=per_zone or 4)
    if seeded is None:
        return None
    if s.best is None:
        centre_sets.insert(0, seeded)
        tried.append("centres from the relaxation (optimiser.seeding)")
        return None
    if per_zone == MID_PER_ZONE:
        s.seeded_won = compete(s, seeded, gap=SEEDED_GAP,
                               cap=s.strategy.round_cap_s or max(5.0, s.budget.remaining() / 2))
        return None
    return seeded
