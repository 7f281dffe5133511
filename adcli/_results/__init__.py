"""Result objects: frozen, JSON-ready dataclasses that engines return and reporters
render. Imports neither jax nor rich.
"""
