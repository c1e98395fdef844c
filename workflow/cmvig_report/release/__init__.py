"""What leaves the build: provenance, the code each step runs, publishing report/."""
