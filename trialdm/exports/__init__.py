"""Item-level data exports: datasets, codebooks and file formats, built as jobs."""
