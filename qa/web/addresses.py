"""Which addresses a fetch may reach: public ones only, checked on the address actually connected to.

A server that fetches what its clients name (``POST /feeds``, webhooks) must not become their way
into its own network. ``GuardedBackend`` resolves each host itself, refuses the connection when any
of its addresses is loopback, private, link-local, multicast or otherwise not public, and then
connects to the address it checked: a name that resolves to 10.0.0.1, or a redirect to
169.254.169.254, is refused at every hop, and DNS cannot answer differently between the check and
the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from qa.errors import AddressRefusedError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[Address]]
Classifier = Callable[[Address], str | None]


def refused_kind(address: Address) -> str | None:
    """Why an address may not be fetched ("loopback", "private", ...), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "reserved"  # shared (100.64/10), documentation, future use, ...
    return None


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to, in the resolver's order, without repeats."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
    found = (ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in infos)
    return list(dict.fromkeys(found))


def refuse_inside(host: str, addresses: Iterable[Address], classifier: Classifier = refused_kind) -> None:
    """``AddressRefusedError`` when any of ``host``'s addresses is not public."""
    for address in addresses:
        kind = classifier(address)
        if kind is not None:
            raise AddressRefusedError(
                host,
                f"refused: {host} is at {address}, a {kind} address "
                "(QA_FETCH_ALLOW_PRIVATE=1 allows such addresses)",
            )


def refuse_inside_url(url: str, resolver: Resolver = resolve) -> None:
    """``AddressRefusedError`` naming ``url`` when a guarded connection to its host would be refused.

    The host is resolved and classified, never connected to; one that does not resolve passes, as
    sending to it would fail later anyway (and be refused then if it came to resolve inside)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        refuse_inside(host, resolver(host, parts.port or (443 if parts.scheme == "https" else 80)))
    except httpcore.ConnectError:
        return
    except AddressRefusedError as exc:
        raise AddressRefusedError(url, exc.reason) from None


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend that connects only to public addresses (see the module)."""

    def __init__(
        self,
        inner: httpcore.NetworkBackend | None = None,
        resolver: Resolver = resolve,
        classifier: Classifier = refused_kind,
    ) -> None:
        self._inner = inner if inner is not None else httpcore.SyncBackend()
        self._resolve = resolver
        self._classify = classifier

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Connect to the first reachable address of ``host`` once all of them are checked."""
        addresses = self._resolve(host, port)
        refuse_inside(host, addresses, self._classify)
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                return self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        """Never: a Unix socket is inside the server."""
        raise AddressRefusedError(path, "refused: a Unix socket")

    def sleep(self, seconds: float) -> None:
        """As the inner backend sleeps."""
        self._inner.sleep(seconds)


def guarded_transport(backend: httpcore.NetworkBackend | None = None) -> httpx.HTTPTransport:
    """An httpx transport whose every connection goes through ``backend`` (a ``GuardedBackend``)."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx builds its httpcore pool without a way to pass the network backend: the pool is
    # rebuilt with the same defaults and the backend. Without the attribute (another httpx) the
    # guard would be silently bypassed: that is an error, never an unguarded client.
    if not isinstance(getattr(transport, "_pool", None), httpcore.ConnectionPool):
        raise RuntimeError(
            f"httpx {httpx.__version__} keeps no httpcore pool: the address guard needs httpx<1"
        )
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=backend if backend is not None else GuardedBackend(),
    )
    return transport
