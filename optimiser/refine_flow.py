"""Step 3 of :mod:`optimiser.refine`: the capacity balance kept by construction.

At the current centres and loads, :func:`flow_headroom` finds an allocation of branch capacity
covering every zone with room to grow; :func:`covering_start` moves the centres of zones the
branches cannot cover to where they can (within the travel limit, when there is one).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog

from optimiser.capacity_flow import uncovered
from optimiser.problem import BranchCapacity


def flow_headroom(branches: BranchCapacity, centres: tuple[int, ...], loads: NDArray[np.float64],
                  upper: NDArray[np.float64]) -> tuple[float, NDArray[np.float64], NDArray[np.float64]] | None:
    """Step 3's LP: flows ``f_bz >= 0`` over the (branch, zone) pairs in reach of the centres,
    room ``0 <= t_z <= head_z = upper_z - loads_z`` and a share ``0 <= s <= 1`` with

      ``sum_z f_bz <= cap_b``                 each branch's capacity counted once
      ``sum_b f_bz >= margin (d_z + t_z)``    every zone covered with its room
      ``t_z >= s head_z``                     every zone keeps the same share of its headroom

    maximising ``2 K s + sum_z t_z / head_z``. Returns ``(s, t, F)``, or None when even the
    current loads cannot be covered (the LP is infeasible)."""
    reach = branches.in_reach()[:, list(centres)] & (branches.capacity[:, None] > 0)
    head = np.maximum(upper - loads, 0.0)
    b_n, k = reach.shape
    pairs = np.argwhere(reach)
    p = len(pairs)
    cols = np.arange(p)
    zone = np.arange(k)
    a_ub = np.zeros((b_n + 2 * k, p + k + 1))
    a_ub[pairs[:, 0], cols] = 1.0  # sum_z f_bz <= cap_b
    a_ub[b_n + pairs[:, 1], cols] = -1.0  # margin t_z - sum_b f_bz <= -margin d_z
    a_ub[b_n + zone, p + zone] = branches.margin
    a_ub[b_n + k + zone, p + zone] = -1.0  # s head_z - t_z <= 0
    a_ub[b_n + k + zone, p + k] = head
    b_ub = np.r_[branches.capacity, -branches.margin * loads, np.zeros(k)]
    gain = np.r_[np.zeros(p), -1.0 / np.maximum(head, 1e-9), -2.0 * k]
    bounds = [(0.0, None)] * p + [(0.0, float(h)) for h in head] + [(0.0, 1.0)]
    res = linprog(gain, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:
        return None
    flow = np.zeros((b_n, k))
    flow[pairs[:, 0], pairs[:, 1]] = np.maximum(res.x[:p], 0.0)
    # what the flow really covers, so that the caps below never exceed it
    covered = np.minimum(flow.sum(axis=0) / branches.margin - loads, head)
    return float(res.x[-1]), np.maximum(covered, 0.0), flow


CentreFits = Callable[[int, NDArray[np.int64]], NDArray[np.bool_]]  # (zone, members) -> which may centre it


def covering_start(branches: BranchCapacity, labels: NDArray[np.int64], centres: list[int],
                   loads: NDArray[np.float64], upper: NDArray[np.float64], *,
                   fits: CentreFits | None = None) -> list[int]:
    """Move the centre of each zone the branches cannot cover to its member with the most
    capacity in reach (a start for step 3; the given centres when they already cover), among
    the members ``fits`` allows as the zone's centre (e.g. within the travel limit of every
    member); a zone with no such member keeps its centre."""
    if flow_headroom(branches, tuple(centres), loads, upper) is not None:
        return centres
    in_reach = branches.capacity_in_reach()
    out = list(centres)
    short = np.flatnonzero(uncovered(branches, out, loads) > 1e-7 * np.maximum(loads, 1.0))
    for z in short.tolist():
        members = np.flatnonzero(labels == z)
        if fits is not None:
            members = members[fits(z, members)]
        if members.size:
            out[z] = int(members[np.argmax(in_reach[members])])
    return out
