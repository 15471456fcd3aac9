"""Rollouts: one interface for sampling K candidates, transformers' generate or the static engine (imports only arc)."""
