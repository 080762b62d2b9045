"""Reads for the /api/v2.0/ registry endpoints (repositories, artifacts, tags, accessories, labels).

The /v2/ hot paths keep their own fixed-SQL reads in registry/selectors.py.
"""
