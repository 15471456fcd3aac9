"""Evaluation the ARC Prize way: views of each task, pooled candidates, two attempts, pass@2.

This package's import is torch-free; solver.py, expert_scores.py and model.py load torch when used.
"""
