"""Trial sites, loaded from the files in the top-level ``sites/`` folder."""
