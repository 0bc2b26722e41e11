"""Which hosts and addresses a webhook may be sent to: public ones only.

Webhook URLs are set by an administrator, and the worker POSTs personal data to
them from inside our network. Without a check, a URL could make the worker call
this machine, the cloud's metadata service or any private host (SSRF). So an
address must be public: never private, link-local (which holds the metadata
address 169.254.169.254), unspecified, multicast, reserved or shared (CGNAT);
loopback only when a development setting allows it. An IPv6 address that embeds
an IPv4 one (IPv4-mapped, 6to4) must pass for both.

The same rules run when a URL is saved (``urls.py``: its host as written) and at
every delivery (``transport.py``: every address its name resolves to).
Pure functions, no I/O.
"""

from __future__ import annotations

import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK = "loopback"

# Names that are never public, whatever they resolve to. A single-label name ("metadata",
# "intranet") is completed by the resolver's search domains to an internal host.
_LOOPBACK_NAMES = ("localhost",)
_INTERNAL_SUFFIXES = (".internal", ".local", ".localdomain", ".home.arpa")


def address_refusal(address: IPAddress) -> str | None:
    """Why a webhook may not go to ``address`` (``LOOPBACK`` for this machine), or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(int(address))  # a scope ("%eth0") changes nothing here
        if address.ipv4_mapped is not None:
            return address_refusal(address.ipv4_mapped)  # ::ffff:127.0.0.1 is 127.0.0.1 to the kernel
        if address.sixtofour is not None and address_refusal(address.sixtofour) is not None:
            return "6to4 around a non-public address"  # routed towards the embedded one
    if address.is_loopback:
        return LOOPBACK
    for refusal, applies in (
        ("unspecified", address.is_unspecified),  # 0.0.0.0 and :: reach this machine
        ("link-local", address.is_link_local),  # 169.254.169.254: the cloud's metadata service
        ("multicast", address.is_multicast),
        ("private", address.is_private),  # 10/8, 172.16/12, 192.168/16, fc00::/7 (fd00::/8), documentation ranges
        ("reserved", address.is_reserved),
        ("not public", not address.is_global),  # 100.64/10 (shared address space) and the like
    ):
        if applies:
            return refusal
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a host names by itself, in any spelling a resolver takes
    (``127.0.0.1``, ``[::1]``, ``2130706433``, ``0x7f.1``, ``0177.0.0.1``); None for a name."""
    bare = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    try:
        # inet_aton takes the old forms (decimal, hex, octal, fewer than four parts) as getaddrinfo does.
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


def host_refusal(host: str) -> str | None:
    """Why a URL's host (as written) may not receive webhooks (``LOOPBACK`` for this machine), or None.

    A name that passes here is checked again, by what it resolves to, at every delivery.
    """
    name = host.lower().rstrip(".")
    address = literal_address(name)
    if address is not None:
        return address_refusal(address)
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return LOOPBACK
    if "." not in name:
        return "not a fully qualified name"
    if name.endswith(_INTERNAL_SUFFIXES):
        return "an internal name"  # metadata.google.internal, printer.local, ...
    return None
