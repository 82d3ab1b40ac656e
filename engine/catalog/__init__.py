"""Candidate catalogs: JSON/CSV items and the emoji sample catalog importer."""
