"""Assessment schedule: events T0-T3, their windows and each participant's status."""
