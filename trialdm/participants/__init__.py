"""Participants (service users, PSWs, MHWs), enrolment and study-ID allocation."""
