"""The data: exports validated and cleaned into the cohort, endpoints, data freezes."""
