"""Mechanisms every domain uses: base model, site scoping, audit, errors, paging.

``core`` imports no other domain of trialdm.
"""
