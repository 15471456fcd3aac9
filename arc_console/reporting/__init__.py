"""--report-to: the run's metrics in TensorBoard, trackio or Weights & Biases, as listeners of the trainer's events."""
