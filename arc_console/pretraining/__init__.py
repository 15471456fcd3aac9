"""Supervised pretraining of the built-in model on synthetic ARC tasks (scripts/warm_start.py)."""
