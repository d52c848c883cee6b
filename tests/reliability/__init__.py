"""Reliability: load, shutdown and failure scenarios against real processes."""
