"""Reproducible benchmarks of Provenant against the baselines users would otherwise have."""
