"""Reading the audit trail (the recording is :mod:`trialdm.core.audit`)."""
