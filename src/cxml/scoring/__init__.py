"""The pure scoring core: a bundle applied to built features gives the scored columns."""

from cxml.scoring.bands import band_edges, explain_mask, ranks, risk_bands
from cxml.scoring.population import outside_population, scoring_population
from cxml.scoring.scorer import CustomerPart, Scored, Scorer

__all__ = [
    "CustomerPart",
    "Scored",
    "Scorer",
    "band_edges",
    "explain_mask",
    "outside_population",
    "ranks",
    "risk_bands",
    "scoring_population",
]
