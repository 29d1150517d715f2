"""The REDCap-compatible API at ``POST /api/``: the trial seen as one longitudinal REDCap
project, so that PyCap, REDCapR and other REDCap API clients work unchanged.

=========================  ==========================================================
REDCap                     trialdm
=========================  ==========================================================
project                    the trial (``TRIAL_NAME``)
instrument (form)          the newest stored version of each scheduled instrument
arm 1, its events          the assessment schedule: ``T0`` -> ``t0_arm_1`` ...
record, record ID field    an enrolled service user; ``study_id`` is the study ID
data access group          a site (``bu``, ``ulm`` ...)
``<form>_complete``        the response status: 0 incomplete, 2 complete
missing data codes         trialdm's codes (``not_asked``, ``refused``, ``dont_know``)
API token                  a 32-hex-character token (``trialdm users token --redcap``)
=========================  ==========================================================
"""
