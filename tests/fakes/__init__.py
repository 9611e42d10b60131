"""Local stand-ins for outside services and sites used by tests and benchmarks."""
