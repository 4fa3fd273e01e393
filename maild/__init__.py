"""maild: an email-driven support-case daemon."""
