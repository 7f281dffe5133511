"""``adcli explain``: the named computational graph and its two sweeps."""
