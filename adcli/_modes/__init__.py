"""``adcli choose-mode``: candidates, prediction, timing and the recommendation."""
