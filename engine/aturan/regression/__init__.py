"""Regression tools: cases, coverage, sampled corpora, corpus diff, the pytest plugin."""
