"""``adcli memory``: residuals, compiled memory, checkpoint policies and schedules."""
