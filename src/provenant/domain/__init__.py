"""Plain, typed domain models. Nothing here does I/O."""
