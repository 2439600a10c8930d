"""The pure scoring core: a bundle applied to built features gives the scored columns."""

from cxml.scoring.bands import band_edges, explain_mask, ranks, risk_bands
from cxml.scoring.population import scoring_population
from cxml.scoring.scorer import CustomerPart, Scored, Scorer

__all__ = [
    "CustomerPart",
    "Scored",
    "Scorer",
    "band_edges",
    "explain_mask",
    "ranks",
    "risk_bands",
    "scoring_population",
]
