"""The statistics: survival, competing risks, estimands, the estimates, Table 1."""
