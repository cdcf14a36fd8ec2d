"""Benchmarks of qa-bot against the floor (the model and FAISS alone); see docs/bench.md."""
