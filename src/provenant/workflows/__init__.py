"""Workflows: a step runner and ibkr_trading_signal_workflow with its providers."""
