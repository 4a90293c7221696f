"""The database password in the Secrets Manager secret RDS manages for the cluster (JSON with
"password"). Read on first use, kept for the process, and read again, past the kept copy, when
the database refuses it: RDS rotates the password (every 7 days by default) under functions
that stay warm for hours."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from ..config import ConfigError
from ..errors import TransientError

# Answers of Secrets Manager that another try may not meet (the service's own trouble).
_TRANSIENT_CODES = {"ThrottlingException", "InternalServiceError", "RequestTimeout", "ServiceUnavailable"}
# What the other answers mean, in words.
_WHY = {
    "ResourceNotFoundException": "does not exist (check DB_PASSWORD_SECRET_ARN)",
    "AccessDeniedException": "may not be read by the function's role",
    "DecryptionFailure": "cannot be decrypted with its KMS key",
    "InvalidRequestException": "cannot be read now (is it scheduled for deletion?)",
}


def _default_client() -> Any:
    import boto3

    return boto3.client("secretsmanager")


class SecretPassword:
    """A `pg.PasswordSource`: the password of one secret, read once, read again on request.
    Thread-safe; callers refused the same password at once cause one read between them."""

    def __init__(self, secret_arn: str, client: Callable[[], Any] = _default_client) -> None:
        self.secret_arn = secret_arn
        self._client_factory = client
        self._client: Any = None
        self._password: str | None = None
        self._lock = threading.Lock()

    def current(self) -> str:
        with self._lock:
            if self._password is None:
                self._password = self._read()
            return self._password

    def refresh(self, refused: str) -> str:
        with self._lock:
            if self._password is None or self._password == refused:
                self._password = self._read()
            return self._password

    def _read(self) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            self._client = self._client_factory()
        client = self._client
        try:
            secret = client.get_secret_value(SecretId=self.secret_arn)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _TRANSIENT_CODES:
                raise TransientError(
                    "Secrets Manager is busy or unavailable: the database password could not be read"
                ) from None
            why = _WHY.get(code, "cannot be read")
            raise ConfigError(f"the database password secret {self.secret_arn} {why}") from None
        except BotoCoreError:  # no answer at all (endpoint unreachable, timeout)
            raise TransientError(
                "Secrets Manager did not answer: the database password could not be read"
            ) from None
        return password_of(secret.get("SecretString"), self.secret_arn)


def password_of(secret_string: Any, secret_arn: str) -> str:
    """The password of a secret RDS manages: JSON with a non-empty "password"."""
    try:
        data = json.loads(secret_string) if isinstance(secret_string, str) else None
    except ValueError:
        data = None
    password = data.get("password") if isinstance(data, dict) else None
    if not isinstance(password, str) or not password:
        raise ConfigError(f'the database password secret {secret_arn} is not JSON with a "password"')
    return password
