"""Publishing a plan: everything written to ``out/<scenario>/``.

Output-only code lives here: the file writers (:mod:`.writers`), the map and report figures
drawn from a plan (:mod:`.layers`), the shareable tables (:mod:`.shareable`) and the
small-count suppression rule (:mod:`.privacy`). This is the only part of :mod:`zoning` that
imports :mod:`maps`; the run path never imports it.
"""
