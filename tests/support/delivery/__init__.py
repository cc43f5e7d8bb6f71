"""The delivery tests' corpus: model repositories that pass or fail each check, and the real-Triton corpus."""
