"""Reminders: rules evaluated per site in the site's time zone, an in-app inbox and e-mail."""
