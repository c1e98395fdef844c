"""Developer and author tools beside the build, never run by a rule: synthetic cohorts
(``python -m cmvig_report.devtools.synth``), the live preview and its watcher
(``python -m cmvig_report preview|watch``). Their edits re-run no step (codebase.py)."""
