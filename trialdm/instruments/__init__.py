"""Instrument definitions as data, the schema built from them, and responses."""
