"""A step file in the seed's schema, exactly as the seed README shows it."""

SEED_FILE = {  # the seed README's example, exactly its schema
    "step": 1, "problem_id": "af902bf9", "prompt": "Full prompt text...",
    "target_grid": [[0, 1, 2], [1, 0, 1]],
    "candidates": [{"candidate_id": 1, "response_text": "Model response...", "predicted_grid": [[0, 1, 1], [1, 0, 1]],
                    "accuracy": 0.83, "has_grid": True, "correct_size": True, "perfect_match": False}],
    "best_candidate_id": 3, "best_accuracy": 0.95, "timestamp": "2025-08-20T07:45:00",
}
