"""Ingestion: read files, map them to canonical tables, validate, quarantine, load."""
