"""Users, memberships (role at a site), API tokens, login and permissions."""
