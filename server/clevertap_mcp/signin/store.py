"""Where a sign-in is kept: `credentials.json` under the user's config directory, readable only by the user, with
the tokens themselves in the OS keyring when one is usable (the optional `keyring` package) or else in that file.

    CLEVERTAP_MCP_CONFIG_DIR, else $XDG_CONFIG_HOME/clevertap-mcp, else %APPDATA%\\clevertap-mcp,
    else ~/.config/clevertap-mcp                                         (config_dir)
    CLEVERTAP_MCP_TOKEN_STORE = auto (default: keyring when usable) | file | keyring

One sign-in per Membrane API URL. The file is written whole (a new 0600 file renamed over the old) under an advisory
lock that also serialises refreshes across processes (several MCP hosts may run this server at once, and a rotated
refresh token must reach all of them). A file that is not the user's own, that others can read, a symlink, or not
valid JSON is never used: the error says what to do. No message ever carries a token.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import stat
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

__all__ = ["SignIn", "StoreError", "TokenStore", "config_dir", "store_from_env"]

FILE_NAME = "credentials.json"
LOCK_NAME = "credentials.lock"
KEYRING_SERVICE = "clevertap-mcp"
ENV_CONFIG_DIR = "CLEVERTAP_MCP_CONFIG_DIR"
ENV_STORE = "CLEVERTAP_MCP_TOKEN_STORE"
STORES = ("auto", "file", "keyring")
# The fields that are credentials: kept in the keyring when it is used, and never shown.
SECRET_FIELDS = ("access_token", "refresh_token", "workspace_secret")

Kind = Literal["oauth", "workspace-secret"]


class StoreError(Exception):
    """The store cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class SignIn:
    """A stored sign-in: OAuth tokens from `login`, or a workspace key and secret from `login --from-membrane-cli`."""

    api_url: str
    kind: Kind
    client_id: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: float | None = None
    workspace_key: str | None = None
    tenant_key: str | None = None
    email: str | None = None
    org_id: str | None = None
    workspace_secret: str | None = None
    signed_in_at: float = 0.0

    def __repr__(self) -> str:
        return f"SignIn(api_url={self.api_url!r}, kind={self.kind!r}, workspace_key={self.workspace_key!r}, tenant_key={self.tenant_key!r})"

    def who(self) -> str:
        """Who this sign-in acts as, for people: never a token."""
        parts = [f"workspace {self.workspace_key or '?'}", f"tenant {self.tenant_key or '(none)'}"]
        if self.email:
            parts.insert(0, self.email)
        return ", ".join(parts)


def config_dir(env: Mapping[str, str]) -> Path | None:
    """This project's config directory as `env` places it; None when `env` names no home at all."""
    if env.get(ENV_CONFIG_DIR, "").strip():
        return Path(env[ENV_CONFIG_DIR].strip())
    if env.get("XDG_CONFIG_HOME", "").strip():
        return Path(env["XDG_CONFIG_HOME"].strip()) / "clevertap-mcp"
    if os.name == "nt" and env.get("APPDATA", "").strip():
        return Path(env["APPDATA"].strip()) / "clevertap-mcp"
    if env.get("HOME", "").strip():
        return Path(env["HOME"].strip()) / ".config" / "clevertap-mcp"
    return None


def store_from_env(env: Mapping[str, str]) -> TokenStore | None:
    directory = config_dir(env)
    if directory is None:
        return None
    choice = env.get(ENV_STORE, "").strip().lower() or "auto"
    if choice != "auto" and choice != "file" and choice != "keyring":
        raise StoreError(f"{ENV_STORE} must be one of {', '.join(STORES)}, not {choice!r}.")
    return TokenStore(directory, use_keyring=choice)


def _usable_keyring() -> Any | None:
    """The keyring module when installed and backed by a real OS store; None otherwise."""
    try:
        keyring: Any = importlib.import_module("keyring")
    except ImportError:
        return None
    try:
        backend: Any = keyring.get_keyring()
        priority = float(getattr(backend, "priority", 0))
    except Exception:  # a broken keyring configuration means no keyring, not a crash
        return None
    name = type(backend).__module__
    if priority <= 0 or name.startswith(("keyring.backends.fail", "keyring.backends.null")):
        return None
    return keyring


class TokenStore:
    def __init__(self, directory: Path, *, use_keyring: Literal["auto", "file", "keyring"] = "auto") -> None:
        self.directory = directory
        self.path = directory / FILE_NAME
        self._use_keyring = use_keyring

    @property
    def where(self) -> str:
        """Where secrets go, for people."""
        return "the OS keyring" if self._keyring() is not None else str(self.path)

    def _keyring(self) -> Any | None:
        if self._use_keyring == "file":
            return None
        found = _usable_keyring()
        if found is None and self._use_keyring == "keyring":
            raise StoreError(
                f"{ENV_STORE}=keyring, but no usable OS keyring was found (install the `keyring` package and a "
                "backend such as the Secret Service, or set it to file)."
            )
        return found

    # Reading ---------------------------------------------------------------------------------------------------

    def _read_all(self) -> dict[str, Any]:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return {}
        except OSError as exc:
            if self.path.is_symlink():
                raise StoreError(f"{self.path} is a symbolic link, so it was not read. {self._remove_hint()}") from None
            raise StoreError(f"{self.path} could not be read ({exc.strerror}). {self._remove_hint()}") from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            self._check_owner_and_mode(info)
            raw = handle.read()
        try:
            data: Any = json.loads(raw)
        except ValueError:
            raise StoreError(f"{self.path} is not valid JSON (corrupt). {self._remove_hint()}") from None
        sign_ins = cast(dict[str, Any], data).get("sign_ins") if isinstance(data, dict) else None
        if not isinstance(sign_ins, dict):
            raise StoreError(f"{self.path} is not a clevertap-mcp credentials file. {self._remove_hint()}")
        return cast(dict[str, Any], sign_ins)

    def _check_owner_and_mode(self, info: os.stat_result) -> None:
        if os.name != "posix":
            return
        if info.st_uid != os.getuid():
            raise StoreError(
                f"{self.path} belongs to another user (uid {info.st_uid}), so it was not read. Remove it, or run as "
                "its owner, then sign in again with `clevertap-mcp login`."
            )
        if info.st_mode & 0o077:
            raise StoreError(
                f"{self.path} can be read by other users (mode {stat.filemode(info.st_mode)}), so it was not used. "
                f"Run `chmod 600 {self.path}`, or `clevertap-mcp logout` and sign in again."
            )

    def _remove_hint(self) -> str:
        return f"Run `clevertap-mcp logout` (or delete {self.path}), then `clevertap-mcp login`."

    def load(self, api_url: str) -> SignIn | None:
        record = self._read_all().get(api_url.rstrip("/"))
        if not isinstance(record, dict):
            return None
        fields = dict(cast(dict[str, Any], record))
        if fields.pop("secrets_in", "file") == "keyring":
            fields.update(self._keyring_secrets(api_url))
        known = {f.name for f in dataclasses.fields(SignIn)}
        try:
            return SignIn(**{k: v for k, v in fields.items() if k in known})
        except TypeError:
            raise StoreError(f"{self.path} holds an incomplete sign-in. {self._remove_hint()}") from None

    def _keyring_secrets(self, api_url: str) -> dict[str, Any]:
        keyring = self._keyring()
        stored = keyring.get_password(KEYRING_SERVICE, api_url) if keyring is not None else None
        if stored is None:
            raise StoreError(
                f"The sign-in recorded in {self.path} keeps its tokens in the OS keyring, which does not have them "
                "(or cannot be reached). Run `clevertap-mcp login` again."
            )
        try:
            return cast(dict[str, Any], json.loads(stored))
        except ValueError:
            raise StoreError(
                "The sign-in's entry in the OS keyring is corrupt. Run `clevertap-mcp login` again."
            ) from None

    # Writing ---------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Generator[None]:
        """An advisory lock over read-modify-write of the store, across processes (POSIX; elsewhere a no-op)."""
        fd = self.acquire()
        try:
            yield
        finally:
            self.release(fd)

    def acquire(self) -> int | None:
        """Take the store's lock (blocking); pass the result to `release`."""
        self._make_directory()
        try:
            import fcntl
        except ImportError:
            return None
        fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    @staticmethod
    def release(fd: int | None) -> None:
        if fd is not None:
            os.close(fd)  # closing releases the lock

    def _make_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def save(self, sign_in: SignIn) -> None:
        record = {k: v for k, v in dataclasses.asdict(sign_in).items() if v is not None}
        keyring = self._keyring()
        if keyring is not None:
            secrets = {k: record.pop(k) for k in SECRET_FIELDS if k in record}
            keyring.set_password(KEYRING_SERVICE, sign_in.api_url, json.dumps(secrets))
            record["secrets_in"] = "keyring"
        all_records = self._read_all()
        all_records[sign_in.api_url] = record
        self._write(all_records)

    def delete(self, api_url: str) -> bool:
        """Forget the sign-in for `api_url`; True when there was one."""
        try:
            all_records = self._read_all()
        except StoreError:
            all_records = None  # a corrupt or unsafe file is removed whole
        if all_records is None:
            self.path.unlink(missing_ok=True)
            return True
        record = all_records.pop(api_url.rstrip("/"), None)
        if isinstance(record, dict) and cast(dict[str, Any], record).get("secrets_in") == "keyring":
            keyring = _usable_keyring()
            if keyring is not None:
                with contextlib.suppress(Exception):
                    keyring.delete_password(KEYRING_SERVICE, api_url)
        if record is None:
            return False
        if all_records:
            self._write(all_records)
        else:
            self.path.unlink(missing_ok=True)
        return True

    def _write(self, all_records: dict[str, Any]) -> None:
        self._make_directory()
        data = json.dumps({"version": 1, "sign_ins": all_records}, indent=2).encode()
        temporary = self.directory / f".{FILE_NAME}.{os.getpid()}.{time.monotonic_ns()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)
