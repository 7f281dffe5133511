"""The problem layer: a Spec (or a callable and its arguments) made runnable.

Flat views, float64 promotion, jaxpr walking, sampling and the JAX runtime settings.
"""
