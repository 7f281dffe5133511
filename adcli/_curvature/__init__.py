"""``adcli curvature``: HVPs, stochastic trace estimates and Lanczos eigenvalues."""
