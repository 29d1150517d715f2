"""The screening log: everyone assessed for eligibility, for the CONSORT counts."""
