"""Delivery hooks: how a verification code reaches the caller's inbox.

The kit issues the code to the server (``request_verification``, service role); the server
hands it to the hook it was configured with and keeps nothing but the verification's id.

- ``CommandDelivery``: runs a command with the code and the address in environment
  variables (never in argv, which every user of the machine can read), without the
  server's keys. Exit status 0 means sent; its output is discarded.
- ``UrlDelivery``: POSTs ``{"channel", "to", "code", "expiresAt"}`` as JSON, with an
  optional bearer token; any 2xx means sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

CODE_ENV = "CUSTOMER_MANAGEMENT_CODE"
TO_ENV = "CUSTOMER_MANAGEMENT_TO"
CHANNEL_ENV = "CUSTOMER_MANAGEMENT_CHANNEL"
EXPIRES_ENV = "CUSTOMER_MANAGEMENT_EXPIRES_AT"

# Secrets of the server that a delivery command has no use for.
WITHHELD_ENV = (
    "SUPABASE_SERVICE_ROLE_KEY",
    "SUPABASE_KEY",
    "SUPABASE_JWT_SECRET",
    "JWT_SECRET",
    "CUSTOMER_MANAGEMENT_ACCESS_TOKEN",
    "CUSTOMER_MANAGEMENT_TELEPHONY_KEY",
    "CUSTOMER_MANAGEMENT_DELIVER_TOKEN",
)


class DeliveryFailed(Exception):
    """The hook did not confirm the delivery; the message holds no code."""


class Delivery(Protocol):
    """Sends a code to an address (``channel`` is ``email``)."""

    def deliver(self, channel: str, to: str, code: str, expires_at: str) -> None:
        """Send it, or raise ``DeliveryFailed``."""


@dataclass(frozen=True)
class CommandDelivery:
    """Run ``argv`` with the code in the environment."""

    argv: Sequence[str]
    timeout: float = 30.0
    environ: Mapping[str, str] | None = field(default=None, repr=False)

    def deliver(self, channel: str, to: str, code: str, expires_at: str) -> None:
        """Run the command; non-zero exit or timeout: ``DeliveryFailed``."""
        env = {
            key: value
            for key, value in (os.environ if self.environ is None else self.environ).items()
            if key not in WITHHELD_ENV
        }
        env.update({CODE_ENV: code, TO_ENV: to, CHANNEL_ENV: channel, EXPIRES_ENV: expires_at})
        try:
            completed = subprocess.run(
                list(self.argv),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeliveryFailed(
                f"the delivery command did not run: {type(exc).__name__}"
            ) from None
        if completed.returncode != 0:
            raise DeliveryFailed(f"the delivery command exited with {completed.returncode}")


@dataclass(frozen=True)
class UrlDelivery:
    """POST the code as JSON to ``url``."""

    url: str
    token: str | None = field(default=None, repr=False)
    timeout: float = 30.0

    def __post_init__(self) -> None:
        """Only http and https: urllib would also open file: URLs."""
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("the delivery URL must start with http:// or https://")

    def deliver(self, channel: str, to: str, code: str, expires_at: str) -> None:
        """POST it; anything but a 2xx answer: ``DeliveryFailed``."""
        body = json.dumps({"channel": channel, "to": to, "code": code, "expiresAt": expires_at})
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.url, data=body.encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryFailed(
                f"the delivery URL was not reached: {type(exc).__name__}"
            ) from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"the delivery URL answered {status}")
