"""PSW contact sessions, their attendance, and intervention fidelity."""
