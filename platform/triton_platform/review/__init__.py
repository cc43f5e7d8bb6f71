"""Review tools: the offline render, its diff and report, the benchmarks and the reaction-time model."""
