"""Adapters: MLflow tracking, blob storage, market data, analysts, brokers, the MLflow UI process."""
