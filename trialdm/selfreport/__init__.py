"""Questionnaires participants fill in themselves, through a one-time link that needs
no login (self-report)."""
