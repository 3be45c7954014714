"""Where a hand-off goes: the Label Studio address and API key, resolved and checked before any upload.

FiftyOne's Label Studio backend (``fiftyone.utils.labelstudio``) talks to the server through
``label_studio_sdk``'s legacy ``Client``, which authenticates with ``Authorization: Token KEY``: the
account's *legacy* token. A personal access token (a JWT, ``eyJ...``) is refused by that header, and so is
any token while the organization has legacy tokens switched off (Label Studio 1.18+ switches them off for new
organizations). :func:`check_labelstudio` asks the server once, so each of these is a clear input error
instead of a traceback from inside the upload. The key is never printed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from workbench.errors import HandoffError

#: Environment variables FiftyOne's own annotation config reads for the Label Studio backend.
URL_ENV = "FIFTYONE_LABELSTUDIO_URL"
KEY_ENV = "FIFTYONE_LABELSTUDIO_API_KEY"
#: Seconds to wait for the server to accept a connection and to answer (a busy server is not an error).
CONNECT_TIMEOUT = 30.0
READ_TIMEOUT = 120.0


@dataclass(frozen=True)
class ServerAccess:
    """A Label Studio server address and the key to use there (``repr`` hides the key)."""

    url: str
    api_key: str
    version: str = ""

    def __repr__(self) -> str:
        return f"ServerAccess(url={self.url!r}, api_key='***', version={self.version!r})"


def resolve_access(url: str | None, api_key: str | None) -> ServerAccess:
    """The address and key from the options, else from ``$FIFTYONE_LABELSTUDIO_URL`` / ``_API_KEY``.

    Example:
        >>> resolve_access("http://127.0.0.1:8080/", "abc").url
        'http://127.0.0.1:8080'
    """
    url = (url or os.environ.get(URL_ENV) or "").strip()
    api_key = (api_key or os.environ.get(KEY_ENV) or "").strip()
    if not url:
        raise HandoffError(f"no Label Studio address: pass --url http://HOST:PORT or set {URL_ENV}")
    if not url.startswith(("http://", "https://")):
        raise HandoffError(f"--url {url!r} is not an http:// or https:// address of a Label Studio server")
    if not api_key:
        raise HandoffError(f"no Label Studio API key: set {KEY_ENV} (or pass --api-key, which other users of this "
                           "machine can see in the process list); use your account's Legacy Token")
    return ServerAccess(url.rstrip("/"), api_key)


def check_labelstudio(access: ServerAccess) -> ServerAccess:
    """Ask the server its version (no key needed) and list one project with the key; raise
    :class:`HandoffError` saying what to do when it can't be reached, isn't Label Studio, or refuses the key.

    Example:
        >>> check_labelstudio(resolve_access("http://127.0.0.1:8080", key)).version  # doctest: +SKIP
        '1.23.2'
    """
    import importlib.util

    import requests

    if importlib.util.find_spec("label_studio_sdk") is None:
        raise HandoffError("FiftyOne's Label Studio backend needs the Label Studio SDK, which is not installed: "
                           "pip install 'workbench[handoff]'")
    timeout = (CONNECT_TIMEOUT, READ_TIMEOUT)
    try:
        answer = requests.get(f"{access.url}/api/version", timeout=timeout)
    except requests.exceptions.RequestException as exc:
        raise HandoffError(f"can't reach a Label Studio server at {access.url} ({_reason(exc)}); start it (see the "
                           "README, \"Hand-off for re-annotation\") or correct --url") from None
    try:
        version = str(answer.json()["release"])
    except (ValueError, KeyError, TypeError):
        raise HandoffError(f"{access.url} answered /api/version with HTTP {answer.status_code} and no Label Studio "
                           "release: is this the address of a Label Studio server?") from None
    try:
        probe = requests.get(f"{access.url}/api/projects", params={"page_size": 1}, timeout=timeout,
                             headers={"Authorization": f"Token {access.api_key}"})
    except requests.exceptions.RequestException as exc:
        raise HandoffError(f"Label Studio at {access.url} stopped answering ({_reason(exc)})") from None
    if probe.status_code in (401, 403):
        hint = (" that key is a personal access token (a JWT); FiftyOne's Label Studio backend sends legacy tokens"
                if access.api_key.startswith("eyJ") else "")
        raise HandoffError(f"Label Studio {version} at {access.url} refused the API key (HTTP {probe.status_code});"
                           f"{hint} use the Legacy Token of your account (Account & Settings > Legacy Token), and "
                           "switch legacy tokens on for the organization (Organization > Settings > Access Token "
                           "Settings, or start the server with --enable-legacy-api-token)")
    if probe.status_code != 200:
        raise HandoffError(f"Label Studio {version} at {access.url} answered HTTP {probe.status_code} when listing "
                           "projects; check the server's log")
    return ServerAccess(access.url, access.api_key, version)


def _reason(exc: BaseException) -> str:
    """A short reason for a failed request (the key is in no request's message: it travels in a header)."""
    import requests

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no answer within {CONNECT_TIMEOUT:g} s"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        return "connection refused" if "refused" in text.lower() else "connection failed"
    return type(exc).__name__
