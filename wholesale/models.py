"""Models of the wholesale app."""
