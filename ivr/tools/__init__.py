"""Tooling: the `ivr` command, the call simulator, scenarios and reports for ops."""
