"""Pure decisions, importing no I/O library.

Automatic mail, proof, reply tokens, routing, deadlines, case lifecycle.
"""
