"""Analyzers: each participant's predetermined, versioned, deterministic analysis.

The analyzer interface and the built-in analyzers arrive with the analysis work
(DESIGN.md, "Analysis"); this package depends only on :mod:`protocol`.
"""

__all__: list[str] = []
