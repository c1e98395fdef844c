"""What a journal asks: profile, metadata and editorial checks, checklist, package."""
