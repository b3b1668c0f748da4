"""Benchmarks: ``citywatch bench e2e|streams|sensors`` (detector: ``detectors.bench``)."""
