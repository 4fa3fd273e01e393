"""Mail coming in.

Mailbox sources, MIME parsing, charsets, quoted-reply stripping and the words
of a message.
"""
