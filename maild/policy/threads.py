"""Which waiting messages belong to one conversation: thread ids and thread groups.

PURE. The work queue (maild.daemon.workqueue) lets only the oldest message
of a thread group be claimed, so a reply is never processed before the
message it answers. The mail sources read each waiting message's thread ids
from its headers when they list it (maild.inbound.listing); grouping them is
this module's job. The grouping takes anything shaped like a listed message
(Threaded), so policy imports nothing of the mail sources, the mailbox seam
no database code and the queue no IMAP code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

__all__ = ["Threaded", "thread_groups"]


class Threaded(Protocol):
    """What grouping needs of a listed message (maild.inbound.listing.Listed is one)."""

    @property
    def key(self) -> str: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def refs(self) -> tuple[str, ...]: ...


class _Components:
    """Union-find over message keys and Message-IDs: what shares an id is one component."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def add(self, node: str) -> None:
        self.parent.setdefault(node, node)

    def __contains__(self, node: str) -> bool:
        return node in self.parent

    def find(self, node: str) -> str:
        root = node
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        # Path compression: later finds on this chain take one step.
        while self.parent.get(node, node) != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _ids(item: Threaded) -> Iterable[str]:
    return (i for i in (item.message_id, *item.refs) if i)


def _known_groups(components: _Components, known: Mapping[str, str]) -> dict[str, str]:
    """Component root -> the oldest group listed earlier that it meets (group names sort by age)."""
    joined: dict[str, str] = {}
    for msgid, group in known.items():
        node = "m:" + msgid
        if node not in components:
            continue
        root = components.find(node)
        if root not in joined or group < joined[root]:
            joined[root] = group
    return joined


def thread_groups(listed: Sequence[Threaded], known: Mapping[str, str]) -> dict[str, str]:
    """key -> thread group for newly listed messages.

    Messages that share any id (own Message-ID, In-Reply-To, References)
    are in one group; a group touching a message listed earlier (`known`:
    message id -> its group) joins that group. A new group is named after
    its oldest message's key.
    """
    components = _Components()
    for item in listed:
        node = "k:" + item.key
        components.add(node)
        for msgid in _ids(item):
            components.union(node, "m:" + msgid)
    joined = _known_groups(components, known)
    first: dict[str, str] = {}  # component root -> its oldest new key (listed oldest first)
    out: dict[str, str] = {}
    for item in listed:
        root = components.find("k:" + item.key)
        out[item.key] = joined.get(root) or first.setdefault(root, item.key)
    return out
