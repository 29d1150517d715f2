"""Summary tables: declarative specs, SQL aggregation, workbooks, build jobs."""
