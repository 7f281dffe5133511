"""``adcli check``: forward, reverse, second-order and ``expect`` checks against FD."""
