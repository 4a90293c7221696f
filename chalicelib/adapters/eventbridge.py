"""EventBridge publisher: puts workflow events on the custom course bus.

Source, detail-type and detail come from chalicelib.core.events, the one module that names them.
"""

from __future__ import annotations

import json
import threading

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from ..core.events import SOURCE, Event
from ..errors import TransientError
from ..ports import EventPublisher

# Throttling and 5xx on the call itself are retried by botocore with backoff and jitter
# (max_attempts counts retries: up to 6 calls).
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


class PublishError(TransientError):
    """EventBridge answered the call but did not accept the event."""


class EventBridgePublisher(EventPublisher):
    """Publishes each event as one PutEvents entry on `bus_name`."""

    def __init__(self, bus_name: str, client: BaseClient | None = None) -> None:
        self._bus = bus_name
        self._client = client
        self._client_lock = threading.Lock()

    @property
    def client(self) -> BaseClient:
        # Created on first use so importing the app needs no AWS configuration.
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = boto3.client("events", config=_CLIENT_CONFIG)
        return self._client

    def publish(self, event: Event) -> None:
        response = self.client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": event.name.value,
                    "Detail": json.dumps(event.detail_json(), ensure_ascii=False),
                    "EventBusName": self._bus,
                }
            ]
        )
        # PutEvents reports rejected entries in a 200 response, which botocore does not retry:
        # raising lets the handler fail and Lambda retry it rather than the workflow stalling.
        if response.get("FailedEntryCount", 0):
            entry = (response.get("Entries") or [{}])[0]
            raise PublishError(
                f"EventBridge rejected {event.name.value} for course {event.course_id} on bus"
                f" {self._bus}: {entry.get('ErrorCode', 'unknown')}: {entry.get('ErrorMessage', '')}"
            )
