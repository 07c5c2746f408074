"""API keys: ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``.

Keys are kept as SHA-256 digests and compared in constant time. Health probes
(``/health``, ``/ping``, ``/v2/health/live``, ``/v2/health/ready``) never need a key,
so load balancers can check a server they hold no secret for.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

OPEN_PATHS = frozenset({"/health", "/ping", "/v2/health/live", "/v2/health/ready"})


class ApiKeys:
    """The keys a server accepts."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys if k]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def accepts(self, key: bytes | None) -> bool:
        if not key:
            return False
        digest = hashlib.sha256(key).digest()
        ok = False
        for known in self._digests:  # no early exit: time does not depend on which key
            ok |= hmac.compare_digest(digest, known)
        return ok

    def check_headers(self, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        """True when the ASGI ``headers`` carry an accepted key."""
        for name, value in headers:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer" and self.accepts(token.strip()):
                    return True
            elif name == b"x-api-key" and self.accepts(value.strip()):
                return True
        return False
