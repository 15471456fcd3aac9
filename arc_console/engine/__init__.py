"""The trainer side: models, rollouts, losses, the loop and its files. Knows nothing about the UI."""
