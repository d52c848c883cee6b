"""Thin route modules, one per concept."""
