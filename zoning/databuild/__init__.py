"""The one-off reference-data build (``carezones init`` / ``data build`` / ``data synthetic``).

Build-only code: sources read from registry wheels (:mod:`.sources`), geometry and tables
(:mod:`.geometry`, :mod:`.tables`), the folders' READMEs (:mod:`.docs`), the straight-line
travel calibration (:mod:`.calibration`), the APPROXIMATE reconstruction of Leicestershire's
current zones (:mod:`.current_zones_approx`) and the seeded SYNTHETIC stand-ins
(:mod:`.synthetic`), the build's report and area helpers (:mod:`.areas`: names, the councils
that can be built, LSOAs of councils created since 2011) and ``carezones init``
(:mod:`.init`: data, stand-ins and a commented scenario for any council). The run path (:mod:`zoning.pipeline` and what it imports) never imports
this package; it reads the files the build wrote.
"""
