"""The evaluation harness: registries, suites, metrics, reports."""
