"""What several benchmarks share (a folder, so `make bench` and the quick-bench test don't run it)."""
