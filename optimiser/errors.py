"""The optimiser's error types (the domain maps them to exit codes)."""

from __future__ import annotations


class InfeasibleProblemError(ValueError):
    """The problem cannot be solved as posed; ``reasons`` say why, with numbers."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(reasons))
