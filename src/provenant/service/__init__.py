"""Use cases over the store and the adapters, their collaborators passed in."""
