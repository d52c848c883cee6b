"""The engine-agnostic step runner: steps, events, the registry of workflows."""
