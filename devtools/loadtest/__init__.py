"""The load test of docs/reliability.md: `locustfile.py` plays the admins,
`make load` runs the whole stack under them and judges the run."""
