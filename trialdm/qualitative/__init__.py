"""Focus-group discussions and interviews, and their members' questionnaire answers."""
