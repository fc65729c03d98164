"""The benchmark suite run by ``make bench`` (see bench/__main__.py)."""
