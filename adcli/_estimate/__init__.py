"""``adcli estimate``: the gradient five ways, with counted passes and predicted errors."""
