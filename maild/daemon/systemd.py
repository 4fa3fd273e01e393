"""sd_notify: tell systemd we are ready, what we are doing, and that we are alive.

A few lines over a datagram socket, so no dependency: with Type=notify,
READY=1 is sent after the first successful connections, STATUS= lines say
what the daemon does, and WATCHDOG=1 comes from the main loop. Outside
systemd ($NOTIFY_SOCKET unset) every call is a no-op.
"""

from __future__ import annotations

import os
import socket


def notify(state: str) -> bool:
    """Send one sd_notify message; False when not under systemd or on any error."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
        return True
    except OSError:
        return False


def watchdog_interval() -> float | None:
    """Half the watchdog period systemd expects pings at, in seconds, or None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1_000_000 / 2
    except ValueError:
        return None
