"""Read stage, storage: where event files live, a local folder or any fsspec URL.

Lists a remote logdir in one recursive listing and fetches many files at once (fsspec's
concurrent ``cat``), so the latency of one object store request is paid per batch, not per
file. fsspec (and s3fs, gcsfs, ...) is imported only for URLs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from tbreport.errors import LogdirNotFoundError
from tbreport.read.records import PAD

#: extras that bring a protocol's fsspec implementation
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}
#: bytes asked for ahead of what a large remote file's reader needs (one request per block)
READ_AHEAD = 8 << 20


class StorageError(LogdirNotFoundError):
    """Remote storage cannot be used: no credentials, an endpoint that does not answer or is
    not a URL. The message says what to set."""


#: what to set for credentials, by protocol (the libraries' standard chains)
_CREDENTIALS = {
    "s3": "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (a profile of "
    "~/.aws/credentials); on AWS an instance or task role is found by itself. For a public "
    "bucket, set FSSPEC_S3_ANON=true",
    "gs": "GOOGLE_APPLICATION_CREDENTIALS (a service account's key file), or run `gcloud auth "
    "application-default login`",
    "az": "AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY, or "
    "AZURE_STORAGE_CONNECTION_STRING",
}
_CREDENTIALS.update(s3a=_CREDENTIALS["s3"], gcs=_CREDENTIALS["gs"], abfs=_CREDENTIALS["az"])
#: the storage libraries' exceptions (by class name: none of them is imported here) that mean
#: no usable credentials, an endpoint that does not answer, or one that is not a URL
_NO_CREDENTIALS = {
    "NoCredentialsError", "PartialCredentialsError", "ProfileNotFound",
    "CredentialRetrievalError", "UnknownCredentialError", "DefaultCredentialsError",
    "RefreshError", "ClientAuthenticationError",
}  # fmt: skip
_NO_CONNECTION = {"EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError"}
_BAD_ENDPOINT = {"EndpointResolutionError", "InvalidEndpointConfigurationError", "NoRegionError"}


def storage_error(url: str, err: BaseException, listing: bool = False) -> StorageError | None:
    """The error to show for ``err``, raised by a storage library reading ``url``, when it is
    one of credentials or of the endpoint (None: not one of those). ``listing``: raised by the
    logdir's listing, where a ValueError is the library refusing its configuration or the
    URL (botocore's "Invalid endpoint", s3fs's "Cannot traverse all of S3")."""
    names = {kind.__name__ for kind in type(err).__mro__}
    protocol = url.split("://", 1)[0].lower()
    s3 = protocol in ("s3", "s3a")
    if names & _NO_CREDENTIALS:
        fix = _CREDENTIALS.get(protocol, "the credentials its storage library looks for")
        return StorageError(
            f"No usable credentials to read '{url}' ({_first_line(err)}). Set {fix}."
        )
    if names & _NO_CONNECTION:
        endpoint = _endpoint(err)
        where = f" at {endpoint}" if endpoint else ""
        fix = (
            "Check AWS_ENDPOINT_URL (or endpoint_url in ~/.aws/config) for an S3-compatible "
            "server, or unset it for AWS itself, and the network"
            if s3
            else "Check the network and the storage's endpoint settings"
        )
        return StorageError(f"Cannot connect to the storage of '{url}'{where}. {fix}.")
    if names & _BAD_ENDPOINT or (listing and isinstance(err, ValueError)):
        of_endpoint = bool(names & _BAD_ENDPOINT) or "endpoint" in str(err).lower()
        if of_endpoint and s3:
            fix = (
                "Check AWS_ENDPOINT_URL (a URL such as http://127.0.0.1:9000) and "
                "AWS_DEFAULT_REGION"
            )
        elif of_endpoint:
            fix = "Check the storage's endpoint settings"
        else:
            fix = f"Check the URL: {protocol}://BUCKET/FOLDER names the folder of your runs"
        return StorageError(f"Cannot read '{url}': {_first_line(err)}. {fix}.")
    return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0].rstrip(".")


def _endpoint(err: BaseException) -> str:
    """The scheme, host and port of the endpoint a connection error names (no path, query or
    user info: nothing of a request or a secret)."""
    kwargs = getattr(err, "kwargs", None)
    value = kwargs.get("endpoint_url") if isinstance(kwargs, dict) else None
    if not isinstance(value, str):
        return ""
    try:
        parts = urlsplit(value)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return ""
    if not parts.scheme or not host:
        return ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


@dataclass(frozen=True)
class Remote:
    """An fsspec filesystem and the logdir's root on it (picklable: workers read directly)."""

    fs: Any  # fsspec.AbstractFileSystem
    url: str
    root: str

    def url_of(self, path: str) -> str:
        return str(self.fs.unstrip_protocol(path))


def open_remote(url: str) -> Remote:
    """The filesystem for ``url``; credentials come from the library's own chain."""
    try:
        import fsspec
    except ImportError:
        raise LogdirNotFoundError(
            f"'{url}' is a URL, and reading URLs needs fsspec: pip install 'tbreport[s3]' "
            "(or tbreport[gcs], or the fsspec package for your storage)."
        ) from None
    protocol = url.split("://", 1)[0]
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except Exception as err:
        unknown = isinstance(err, ValueError) and str(err).startswith("Protocol not known")
        if isinstance(err, ImportError) or unknown:
            extra = _EXTRAS.get(protocol)
            fix = (
                f"Run: pip install 'tbreport[{extra}]'"
                if extra
                else "Install the fsspec package for it"
            )
            raise LogdirNotFoundError(
                f"Cannot read '{url}': no storage library for '{protocol}://' ({err}). {fix}."
            ) from None
        problem = storage_error(url, err)
        if problem is not None:
            raise problem from None
        if isinstance(err, OSError | ValueError):
            # the library refused its settings, or could not start (hdfs:// without a JVM)
            raise StorageError(
                f"Cannot open the storage of '{url}' ({_first_line(err)}). Check the URL and "
                "the settings of its storage library."
            ) from None
        raise
    return Remote(fs, url, root.rstrip("/"))


def load_batch(
    remote: Remote | None, paths: Sequence[str], sizes: Sequence[int] | None = None
) -> tuple[np.ndarray, list[int], list[OSError | None]]:
    """The files' bytes end to end in one buffer (PAD zero bytes after), where each starts,
    and per file the error that kept it out (its bytes are then left out).

    ``sizes``: the sizes the files were listed with; local files are then read straight into
    their place in the buffer (one allocation, no copy), unless one changed since.
    """
    if remote is None and sizes is not None:
        got = _load_sized(paths, sizes)
        if got is not None:
            return got
    chunks: list[bytes] = []
    errors: list[OSError | None] = []
    if remote is None:
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    chunks.append(fh.read())
                errors.append(None)
            except OSError as err:
                chunks.append(b"")
                errors.append(err)
    else:
        try:
            got = remote.fs.cat(list(paths), on_error="return")
        except Exception as err:
            _raise_storage_error(remote.url, err)
            raise
        for path in paths:
            data = got.get(path, got.get(remote.fs._strip_protocol(path)))
            if isinstance(data, bytes):
                chunks.append(data)
                errors.append(None)
            else:
                # no credentials or no endpoint (a Dask worker's environment): no file of the
                # logdir can be read, which one error says better than a warning per file
                if isinstance(data, BaseException):
                    _raise_storage_error(remote.url, data)
                chunks.append(b"")
                errors.append(_os_error(path, data))
    bounds = np.cumsum([0] + [len(c) for c in chunks[:-1]]).tolist()
    store = np.zeros(sum(len(c) for c in chunks) + PAD, dtype=np.uint8)
    at = 0
    for c in chunks:
        store[at : at + len(c)] = np.frombuffer(c, np.uint8)
        at += len(c)
    return store[:at], bounds, errors


def _load_sized(
    paths: Sequence[str], sizes: Sequence[int]
) -> tuple[np.ndarray, list[int], list[OSError | None]] | None:
    """:func:`load_batch` of local files of known sizes; None if one's size changed (a
    writer still running), so the caller reads them as they are now."""
    bounds = np.cumsum([0, *sizes[:-1]]).tolist() if sizes else []
    total = int(sum(sizes))
    store = np.zeros(total + PAD, dtype=np.uint8)
    view = memoryview(store)  # type: ignore[arg-type]
    extra = bytearray(1)
    errors: list[OSError | None] = []
    for path, at, size in zip(paths, bounds, sizes, strict=True):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as err:
            errors.append(err)
            continue
        try:
            # one system call: the file's bytes, and one more byte if it grew since listed
            got = os.readv(fd, [view[at : at + size], extra])
            while 0 < got < size:  # short reads happen on some filesystems
                more = os.readv(fd, [view[at + got : at + size], extra])
                if not more:
                    break
                got += more
            if got != size:
                return None  # shorter or longer than listed
        except OSError as err:
            errors.append(err)
            continue
        finally:
            os.close(fd)
        errors.append(None)
    if any(errors):
        return None  # the bytes of unreadable files are left out: laid out as they are read
    return store[:total], bounds, errors


def load_file(remote: Remote, path: str) -> np.ndarray:
    """One large remote file as :func:`tbreport.read.records.load` gives a local one:
    read in blocks with read-ahead straight into the buffer (no second copy)."""
    # fsspec's filesystems raise OSError subclasses (s3fs translates botocore's errors), but
    # for credentials and endpoints
    try:
        with remote.fs.open(path, "rb", block_size=READ_AHEAD, cache_type="readahead") as fh:
            return read_into(fh, fh.size)
    except Exception as err:
        _raise_storage_error(remote.url, err)
        raise


def _raise_storage_error(url: str, err: BaseException) -> None:
    """Raise the StorageError that ``err`` is, if it is one (else return)."""
    problem = storage_error(url, err)
    if problem is not None:
        raise problem from None


def read_into(fh: Any, size: int) -> np.ndarray:
    """Up to ``size`` bytes from ``fh``'s position read straight into a new buffer, followed
    by PAD zero bytes (as :func:`tbreport.read.records.load` gives a file); shorter when the
    file ends sooner."""
    store = np.zeros(size + PAD, dtype=np.uint8)
    view = store.data[:size]
    got = 0
    while got < size:
        more = fh.readinto(view[got:])
        if not more:
            break
        got += more
    return store[:got]


def _os_error(path: str, err: object) -> OSError:
    """An OSError with a readable strerror for whatever a storage library raised."""
    if isinstance(err, OSError) and err.strerror:
        return err
    if isinstance(err, FileNotFoundError | PermissionError):
        return type(err)(0, str(err) or type(err).__name__, path)
    text = str(err) or type(err).__name__
    return OSError(0, text, path)
