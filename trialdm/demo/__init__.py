"""Demonstration data for ``make run``: users of every role and a small trial."""
