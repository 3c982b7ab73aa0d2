"""Benchmarks of a running Pictor stack: ``python -m bench [scenario ...]``.

Each scenario drives the stack the way client apps do (GraphQL over HTTP) and reports
figures beside a baseline measured in the same run, so a ratio says what a feature
costs beyond a floor rather than what this machine happened to do today.
"""
