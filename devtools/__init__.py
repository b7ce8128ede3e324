"""Development tools: the benchmark (`make bench`) and the load test (`make load`).

A Django app of its own, installed only by `devtools.settings` (which the
Makefile selects for those two commands), and left out of the production
image: nothing in dashboard/ or syncstatus/ imports it.
"""
