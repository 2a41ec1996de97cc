"""Scale and fault campaign: `python -m bench.scale` (see bench/README.md and bench/scale/__main__.py)."""
