"""Shared foundations: files, settings, the config check, the step runner, formatting."""
