"""`maild demo` and the local SMTP sink it (and the tests) send to."""
