"""The case database's write and read side.

Applying routing decisions, admin operations, held mail, views.
"""
