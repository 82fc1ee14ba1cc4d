"""Run a fixed-centre solve in a child process that carezones can stop.

HiGHS honours its time limit between its own work units; a long root LP or presolve on a
large model can run past it, and nothing inside the Python process can interrupt a call into
the solver's C++ code. :func:`solve_assignment_stoppable` builds and solves the model in a
child process (``fork`` where the platform has it, else ``spawn``) and waits for the answer
for the solver's limit plus a grace period; on overrun the child is terminated (then killed)
and the outcome says the solve was stopped with no plan, in the solver's usual terms.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
import warnings
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from optimiser.assignment import AssignmentOutcome, solve_assignment
from optimiser.problem import DistrictingProblem
from optimiser.solve import SolverReport, SolveStatus

log = logging.getLogger(__name__)

#: seconds the child may run past the solver's own time limit before it is stopped
GRACE_S = 2.0

#: the solver's words recorded when carezones stops a solve itself
STOPPED = "stopped by carezones: the solver ran past its time limit"


def _context() -> Any:
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def can_isolate() -> bool:
    """False inside a daemonic process (e.g. a Dask or multiprocessing pool worker), which may
    not start children: there the work runs in-process, under the solver's own time limit."""
    return not mp.current_process().daemon


def solve_assignment_stoppable(
    problem: DistrictingProblem,
    centres: Sequence[int],
    *,
    solver: str,
    time_limit_s: float,
    grace_s: float = GRACE_S,
    **kwargs: Any,
) -> AssignmentOutcome:
    """:func:`optimiser.assignment.solve_assignment` in a child process stopped after
    ``time_limit_s + grace_s`` seconds (see the module docstring)."""
    kwargs = {**kwargs, "solver": solver, "time_limit_s": time_limit_s, "limit_includes_build": True}
    if not can_isolate():
        return solve_assignment(problem, centres, **kwargs)
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_call, args=(send, solve_assignment, {"problem": problem, "centres": tuple(int(c) for c in centres), **kwargs}), daemon=True)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork from a threaded process (numpy's pools)
        proc.start()
    send.close()
    try:
        if receive.poll(time_limit_s + grace_s):
            kind, payload = receive.recv()
        else:
            kind, payload = "stopped", None
    except EOFError:  # the child died without answering
        kind, payload = "died", None
    finally:
        receive.close()
        if kind in ("stopped", "died"):
            proc.terminate()
        proc.join(timeout=2.0)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=2.0)
    if kind == "ok":
        assert isinstance(payload, AssignmentOutcome)
        return payload
    if kind == "error":
        raise payload
    seconds = time.perf_counter() - start
    words = STOPPED if kind == "stopped" else f"the solver process ended without an answer (exit code {proc.exitcode})"
    log.warning("%s after %.1f s (limit %.1f s)", words, seconds, time_limit_s)
    report = SolverReport(
        solver=solver.lower(), status=SolveStatus.NO_SOLUTION if kind == "stopped" else SolveStatus.ERROR,
        solver_status=words, objective=None, best_bound=None, gap=None, seconds=seconds,
        time_limit_s=time_limit_s, n_variables=0, n_constraints=0,
    )
    return AssignmentOutcome(centres=tuple(int(c) for c in centres), report=report, labels=None)


def _call(conn: Connection, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    try:
        conn.send(("ok", fn(**kwargs)))
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which re-raises it
        conn.send(("error", exc))
    finally:
        conn.close()


class Background:
    """``fn(**kwargs)`` started now in a child process (the second core); :meth:`result` waits
    for it at most ``wait_s`` seconds, then stops it and returns None.

    With ``stoppable=True``, ``fn`` also receives ``stop_event`` (an event it checks as it
    works, returning its best answer so far once it is set): ``result(wait_s=..., ask_s=...)``
    sets it after ``wait_s`` and waits ``ask_s`` more for that answer."""

    def __init__(self, fn: Callable[..., Any], *, stoppable: bool = False, **kwargs: Any) -> None:
        self._inline: tuple[Callable[..., Any], dict[str, Any]] | None = None
        self._stop_event: Any = None
        if not can_isolate():  # run at result() time, in-process
            self._inline = (fn, kwargs)
            return
        ctx = _context()
        if stoppable:
            self._stop_event = ctx.Event()
            kwargs = {**kwargs, "stop_event": self._stop_event}
        self._receive, send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_call, args=(send, fn, kwargs), daemon=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._proc.start()
        send.close()

    def stop(self) -> None:
        """Stop the job without waiting and without raising what it may have raised."""
        if self._inline is not None:
            self._inline = None
            return
        try:
            self.result(wait_s=0.0)
        except Exception as exc:  # noqa: BLE001 - the caller is already handling its own error
            log.debug("background job stopped; it had failed: %s", exc)

    def result(self, *, wait_s: float, ask_s: float = 0.0) -> Any:
        if self._inline is not None:
            fn, kwargs = self._inline
            self._inline = None
            return fn(**kwargs)
        try:
            ready = self._receive.poll(max(wait_s, 0.0))
            if not ready and self._stop_event is not None and ask_s > 0:
                self._stop_event.set()  # ask for the best answer so far
                ready = self._receive.poll(ask_s)
            kind, payload = self._receive.recv() if ready else ("stopped", None)
        except EOFError:
            kind, payload = "died", None
        finally:
            self._receive.close()
            if self._proc.is_alive():
                self._proc.terminate()
            self._proc.join(timeout=2.0)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(timeout=2.0)
        if kind == "error":
            assert isinstance(payload, BaseException)
            raise payload
        if kind != "ok":
            log.warning("background job %s: %s", kind, getattr(self._proc, "name", ""))
            return None
        return payload
