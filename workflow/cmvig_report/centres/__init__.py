"""Many centres: each centre's aggregate bundle, the pooled estimates and report."""
