"""Mail going out: who is notified, rendering, the outbox and the SMTP seam."""
