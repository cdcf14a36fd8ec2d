"""qa eval: benchmark datasets (SQuAD, SciFact format), metrics, and a run through the answering path."""
