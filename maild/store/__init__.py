"""Persistence: engine and sessions, the typed schema, attachment bytes, migrations."""
