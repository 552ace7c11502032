"""A trained model: its file format, labels, standardization, metrics, and predict/evaluate over a file."""
