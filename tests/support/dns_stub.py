"""A DNS stand-in for Docker's embedded DNS: one name, one A record per replica, changed while it runs.

nginx's ``resolver`` asks it over UDP as it would ask 127.0.0.11 in a compose network. Only what nginx asks
is answered: A queries (``ipv6=off``) for the configured names; any other name gets NXDOMAIN, any other
type an empty answer. Records are changed at run time (a replica removed, as Docker does when a container
dies), and every query is counted, so a test can tell when nginx asked again.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

TYPE_A = 1
CLASS_IN = 1
NXDOMAIN = 3


def _question(packet: bytes) -> tuple[str, int, int]:
    """The queried name, type and the offset where the question ends."""
    labels, offset = [], 12
    while (length := packet[offset]) != 0:
        labels.append(packet[offset + 1 : offset + 1 + length].decode("ascii").lower())
        offset += 1 + length
    qtype = struct.unpack("!H", packet[offset + 1 : offset + 3])[0]
    return ".".join(labels), qtype, offset + 5


@dataclass
class DnsStub:
    """A UDP DNS server on ``host``:``port`` (a free one when 0) answering ``records`` with ``ttl``."""

    records: dict[str, list[str]]
    host: str = "127.0.0.1"
    port: int = 0
    ttl: int = 10
    queries: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((self.host, self.port))
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="dns-stub", daemon=True)

    @property
    def address(self) -> str:
        """``host:port``, as nginx's ``resolver`` directive takes it."""
        return f"{self.host}:{self.port}"

    def start(self) -> DnsStub:
        self._thread.start()
        return self

    def close(self) -> None:
        self._socket.close()
        self._thread.join(timeout=5)

    def set(self, name: str, addresses: Iterable[str]) -> None:
        """From now on ``name`` resolves to ``addresses`` (in this order)."""
        with self._lock:
            self.records[name] = list(addresses)

    def _serve(self) -> None:
        while True:
            try:
                packet, client = self._socket.recvfrom(512)
            except OSError:  # closed
                return
            try:
                self._socket.sendto(self.answer(packet), client)
            except (IndexError, UnicodeDecodeError, struct.error):
                continue  # not a query this stand-in understands: no answer, as a lost packet

    def answer(self, packet: bytes) -> bytes:
        """The response to one query ``packet``."""
        (query_id,) = struct.unpack("!H", packet[:2])
        name, qtype, end = _question(packet)
        with self._lock:
            self.queries[name] = self.queries.get(name, 0) + 1
            addresses = self.records.get(name)
        found = addresses is not None
        answers = addresses if found and qtype == TYPE_A else []
        flags = 0x8180 if found else 0x8180 | NXDOMAIN  # response, recursion desired and available
        header = struct.pack("!HHHHHH", query_id, flags, 1, len(answers), 0, 0)
        records = b"".join(
            # a pointer (0xC00C) to the name in the question, type A, class IN, TTL, 4 bytes of address
            struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, self.ttl, 4) + socket.inet_aton(address)
            for address in answers
        )
        return header + packet[12:end] + records
