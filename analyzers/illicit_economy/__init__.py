"""UNDP's illicit-economy analyzer: market-price anomalies, unit mix-ups and
livelihood impact, joined with conflict intensity (DESIGN.md, "Analysis").

See :mod:`analyzers.illicit_economy._analyzer` for why these are signals of
black-market activity, and the private modules for each computation.
"""

from clearinghouse.analyzers.illicit_economy._analyzer import IllicitEconomyAnalyzer

__all__ = ["IllicitEconomyAnalyzer"]
