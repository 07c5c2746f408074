"""Content-addressed blobs over any fsspec filesystem.

A blob lives at ``{root}/sha256/{digest[:2]}/{digest}``. Writing the same bytes twice
stores them once. Writes go to a temporary name first and are moved into place, so a
reader never sees a half-written blob; reads are verified against the digest.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import IO, Any

from prodline.errors import ArtifactError, ConfigError, NotFoundError

CHUNK = 1 << 20


class ArtifactStore:
    """Blobs addressed by the sha256 of their content, under one fsspec URL."""

    def __init__(self, url: str) -> None:
        import fsspec

        try:
            self.fs, root = fsspec.core.url_to_fs(url)
        except (ValueError, ImportError) as exc:
            raise ConfigError(
                f"Cannot use the artifacts URL {url!r}: {exc}. Use a folder path or an fsspec "
                "URL such as 'memory://prodline' or 's3://bucket/prefix' (with s3fs installed)."
            ) from None
        self.url = url
        self.root = root.rstrip("/") or "/"
        self.local = self.fs.protocol in ("file", "local") or "file" in self.fs.protocol

    def path_of(self, digest: str) -> str:
        """Where the blob ``digest`` is (or would be) stored."""
        _check_digest(digest)
        return f"{self.root}/sha256/{digest[:2]}/{digest}"

    def exists(self, digest: str) -> bool:
        """Whether the blob is stored."""
        return bool(self.fs.exists(self.path_of(digest)))

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; return its sha256 digest."""
        digest = hashlib.sha256(data).hexdigest()
        if not self.exists(digest):
            self._write(digest, lambda handle: handle.write(data))
        return digest

    def put_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a local file's content; return ``(digest, size)``."""
        source = Path(path)
        if not source.is_file():
            what = "is a folder" if source.is_dir() else "does not exist"
            raise ArtifactError(f"Cannot log artifact {str(source)!r}: it {what}.")
        digest = sha256_file(source)
        if not self.exists(digest):

            def copy(handle: IO[bytes]) -> None:
                with source.open("rb") as reader:
                    while chunk := reader.read(CHUNK):
                        handle.write(chunk)

            self._write(digest, copy)
        return digest, source.stat().st_size

    def get_bytes(self, digest: str) -> bytes:
        """The blob's content, checked against its digest."""
        target = self.path_of(digest)
        try:
            with self.fs.open(target, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise NotFoundError(
                f"Blob {digest[:12]}… is missing from the artifact store at {self.url}."
            ) from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise ArtifactError(
                f"Blob {digest[:12]}… at {target} does not match its hash: the artifact store "
                "was modified outside prodline."
            )
        return data

    def download(self, digest: str, destination: str | os.PathLike[str]) -> Path:
        """Copy a blob to a local file (verified) and return its path."""
        target = Path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.get_bytes(digest))
        return target

    def _write(self, digest: str, writer: Any) -> None:
        final = self.path_of(digest)
        parent = final.rsplit("/", 1)[0]
        temporary = f"{parent}/.tmp-{uuid.uuid4().hex}"
        try:
            self.fs.makedirs(parent, exist_ok=True)
            with self.fs.open(temporary, "wb") as handle:
                writer(handle)
                if self.local:
                    handle.flush()
                    os.fsync(handle.fileno())
            if self.local:
                os.replace(temporary, final)
            else:
                self.fs.mv(temporary, final)
        except OSError as exc:
            raise ArtifactError(
                f"Could not write to the artifact store at {self.url}: {exc}. "
                "Check that it exists and is writable (PRODLINE_ARTIFACTS_URL)."
            ) from exc
        finally:
            if self.fs.exists(temporary):
                self.fs.rm(temporary)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 hex digest of a local file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_digest(digest: str) -> None:
    if (
        not isinstance(digest, str)
        or len(digest) != 64
        or not all(c in "0123456789abcdef" for c in digest)
    ):
        raise ArtifactError(f"{digest!r} is not a sha256 hex digest.")
