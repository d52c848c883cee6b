"""Adapters, each behind a small Protocol: MLflow tracking, blob storage, market data,
analysts, brokers, and the MLflow UI process."""
