"""OAuth2 access tokens for IMAP and SMTP logins (SPEC §9).

Microsoft 365 and Google Workspace have turned password logins off, so a
mailbox or SMTP server with `auth = "oauth2"` logs in with a bearer token
instead. This package owns everything about those tokens and nothing about
mail: the settings and per-provider endpoints (`settings`), the token
requests and their errors (`endpoint`, `errors`), the owner-only refresh
token file (`refreshfile`), the cached, self-refreshing `TokenSource`
(`tokens`), the SASL initial responses (`sasl`) and the two sign-ins of
`maild auth login`: the device-code flow (`device`) and the authorization
code with PKCE and a loopback redirect (`loopback`), which Google requires
because its device flow refuses the Gmail scope. Only stdlib I/O (urllib), so importing it
costs little and it can be tested against a local token endpoint.

Why not Microsoft's `msal` for Microsoft: its confidential and public
clients insist on an https authority and fetch the tenant's OpenID
configuration (and, off the well-known hosts, an instance discovery from
login.microsoftonline.com) before any token request, so the Microsoft path
could never run against the test endpoint, and its caching duplicates the
TokenSource; the v2.0 endpoints it calls are plain RFC 6749 / RFC 8628,
which this package speaks for every provider (and it adds requests, PyJWT
and cryptography to a process that must start fast for `maild deliver`).
"""
