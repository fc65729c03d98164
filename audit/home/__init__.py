"""Home: what needs me now."""
