"""Shared numerics: finite differences with an error model, tolerances, batched
probes, localisation, timing.
"""
