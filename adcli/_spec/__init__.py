"""The spec layer: YAML with line marks, shapes, the formula language, schema,
validate, init and project config. Imports neither jax nor rich.
"""
