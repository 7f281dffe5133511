"""Reporters: render result objects (terminal, JSON); they compute nothing."""
