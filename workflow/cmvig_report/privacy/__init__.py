"""Small-cell control and the leak check: what a shareable output may print."""
