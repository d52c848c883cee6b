"""Developer tools that check the code's own shape (run with `python -m`)."""
