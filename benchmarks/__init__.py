"""Benchmarks of the classifier and app; from the repo root run: python -m benchmarks.NAME --help"""
