"""The planner's workflow over whole runs: option sweeps, re-openings from a previous plan,
comparisons of two runs and evaluation of a hand-edited plan. Each works by calling the run
path (:mod:`zoning.pipeline`) and the publishing side (:mod:`zoning.publish`)."""
