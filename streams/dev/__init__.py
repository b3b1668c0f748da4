"""Development tools: the embedded broker, the demo, the benchmarks and the evaluation on clips."""
