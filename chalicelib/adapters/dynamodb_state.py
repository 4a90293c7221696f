"""DynamoDB StateStore: the workflow state in AWS, one item per course, written conditionally.

The state travels as one zlib-compressed JSON binary attribute (`body`), which sidesteps
DynamoDB's float/Decimal problem and keeps a 40-hour course's item small (JSON of outlines
compresses about fourfold); a few plain attributes serve keys, the user index, TTL and operators.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from ..core import rules
from ..core.events import Event
from ..core.models import MAX_HOURS, CourseState, PartResult, Status
from ..core.paging import PageKey, is_older
from ..core.watchdog import format_time, sort_key
from ..errors import StaleState
from ..ports import EventNotPublished, EventPublisher, KeyedCourse, RequestKey, RequestKeyTaken, StateStore

USER_INDEX = "user_id-created_at-index"
# The courses in progress, for the watchdog: a sparse index. `in_progress` holds the status of a
# course that is neither complete nor failed and is left out of every other item (finished
# courses, part results), so the index holds only the courses in progress, by status, the
# longest idle first (`updated_at`, in core.watchdog.sort_key's form). It projects the keys only:
# the watchdog reads each candidate's state again, consistently, before it decides.
IDLE_INDEX = "in_progress-updated_at-index"
# A part's result (parallel sections) is an item of its own, keyed "<course id>#part-<index>": it
# has no user_id, so the user index leaves it out, and parallel writers never share an item.
PART_KEY = "{course_id}#part-{part_index}"
# A request key (Idempotency-Key) is an item of its own too, "idem#<user>#<key>" (a key holds no
# "#", so the last one splits them), written in one transaction with the course it created and
# expiring by TTL; without user_id it stays out of the user index as well.
KEY_ITEM = "idem#{user_id}#{key}"
_SECONDS_PER_DAY = 86_400
_TRANSACTION_ATTEMPTS = 4
# Throttling and 5xx are retried by botocore with backoff and jitter (max_attempts counts
# retries: up to 6 calls); what still fails raises, and Lambda's own retries take over.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


class DynamoDBStateStore(StateStore):
    """Course states in a DynamoDB table keyed by `course_id`; `clock` returns epoch seconds."""

    def __init__(
        self,
        table_name: str,
        client: BaseClient | None = None,
        ttl_days: int = 7,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._table = table_name
        self._client = client
        self._client_lock = threading.Lock()
        self._ttl_seconds = ttl_days * _SECONDS_PER_DAY
        self._clock = clock or time.time

    @property
    def client(self) -> BaseClient:
        # Created on first use, not at import or cold start, so tests and `chalice package`
        # need no AWS configuration; the lock keeps threads from building two clients.
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = boto3.client("dynamodb", config=_CLIENT_CONFIG)
        return self._client

    def create(self, state: CourseState) -> CourseState:
        stored = state.model_copy(update={"version": 1})
        # attribute_not_exists on the hash key: the put succeeds only if no item has this id.
        self._put(stored, condition="attribute_not_exists(course_id)")
        return _reparsed(stored)

    def find_keyed(self, user_id: str, key: str, now: float) -> KeyedCourse | None:
        item = self.client.get_item(
            TableName=self._table,
            Key={"course_id": {"S": KEY_ITEM.format(user_id=user_id, key=key)}},
            ConsistentRead=True,
        ).get("Item")
        # TTL deletes expired items only eventually: the expiry is checked here too.
        if item is None or float(item["expires_at"]["N"]) < now:
            return None
        return KeyedCourse(course_id=item["target"]["S"], fingerprint=item["fingerprint"]["S"])

    def create_keyed_and_publish(
        self,
        state: CourseState,
        key: RequestKey,
        event: Event,
        publisher: EventPublisher,
        replaces: str | None = None,
    ) -> CourseState:
        stored = state.model_copy(update={"version": 1})
        # Free, expired, or held by the course being replaced: the condition on the key item.
        taken_over = "attribute_not_exists(course_id) OR #expires < :now"
        names = {"#expires": "expires_at"}
        values: dict[str, Any] = {":now": {"N": repr(key.now)}}
        if replaces is not None:
            taken_over += " OR #target = :replaces"
            names["#target"] = "target"
            values[":replaces"] = {"S": replaces}
        key_item = {
            "course_id": {"S": KEY_ITEM.format(user_id=key.user_id, key=key.key)},
            "target": {"S": state.course_id},
            "fingerprint": {"S": key.fingerprint},
            "expires_at": {"N": repr(key.expires_at)},
            "ttl": {"N": str(int(key.expires_at) + 1)},
        }
        transaction = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": key_item,
                    "ConditionExpression": taken_over,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": self._item(stored),
                    "ConditionExpression": "attribute_not_exists(course_id)",
                }
            },
        ]
        for attempt in range(_TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=transaction)
                break
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
                if reasons[:1] == ["ConditionalCheckFailed"]:
                    held = self.find_keyed(key.user_id, key.key, key.now)
                    if held is not None:
                        raise RequestKeyTaken(key, held) from exc
                if reasons[1:2] == ["ConditionalCheckFailed"]:
                    raise StaleState(f"course {state.course_id} already exists") from exc
                # Another transaction on the same key at the same moment (TransactionConflict):
                # try again, and the condition then says who won.
                if attempt == _TRANSACTION_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        created = _reparsed(stored)
        try:
            publisher.publish(event)
        except Exception as error:
            raise EventNotPublished(created, error) from error
        return created

    def get(self, course_id: str) -> CourseState | None:
        # Consistent read: a handler must see the write of the handler that published its event.
        item = self.client.get_item(
            TableName=self._table, Key={"course_id": {"S": course_id}}, ConsistentRead=True
        ).get("Item")
        return None if item is None else _parse(item)

    def save(self, state: CourseState) -> CourseState:
        stored = state.model_copy(update={"version": state.version + 1})
        # The stored version must still be the one this writer read; a missing item fails too.
        self._put(
            stored,
            condition="#version = :expected",
            names={"#version": "version"},
            values={":expected": {"N": str(state.version)}},
        )
        return _reparsed(stored)

    def list_for_user(self, user_id: str, limit: int = 50) -> list[CourseState]:
        # The index projects ALL attributes, so the bodies come with the query. Index reads are
        # eventually consistent: a course created a moment ago may be missing for an instant.
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": USER_INDEX,
            "KeyConditionExpression": "user_id = :user",
            "ExpressionAttributeValues": {":user": {"S": user_id}},
            "ScanIndexForward": False,
        }
        states: list[CourseState] = []
        # A page stops at 1 MB; large states can fill it before `limit` items.
        while len(states) < limit:
            page = self.client.query(**query, Limit=limit - len(states))
            states.extend(_parse(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return states

    def list_page(
        self, user_id: str, limit: int, before: PageKey | None = None, status: Status | None = None
    ) -> list[CourseState]:
        if limit < 1:
            return []
        # The index sorts on created_at alone, so courses created in the same millisecond come
        # in no set order: the query starts at the cursor's timestamp inclusive, reads on until
        # it has passed the timestamp of the last course it keeps, and the rest is sorted here.
        values: dict[str, Any] = {":user": {"S": user_id}}
        condition = "user_id = :user"
        if before is not None:
            condition += " AND created_at <= :before"
            values[":before"] = {"S": before.created_at}
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": USER_INDEX,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
        }
        if status is not None:
            # A filter reads past what it drops; a user's partition of the index is small.
            query["FilterExpression"] = "#status = :status"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            values[":status"] = {"S": status.value}
        query["ExpressionAttributeValues"] = values
        kept: list[CourseState] = []
        while True:
            page = self.client.query(**query, Limit=max(limit - len(kept), 0) + 1)
            for item in page["Items"]:
                state = _parse(item)
                if is_older(PageKey(state.created_at, state.course_id), before):
                    kept.append(state)
            last = page.get("LastEvaluatedKey")
            if last is None:
                break
            kept.sort(key=lambda s: (s.created_at, s.course_id), reverse=True)
            if len(kept) >= limit and last["created_at"]["S"] < kept[limit - 1].created_at:
                break
            query["ExclusiveStartKey"] = last
        kept.sort(key=lambda s: (s.created_at, s.course_id), reverse=True)
        return kept[:limit]

    def idle(self, status: Status, before: datetime, limit: int) -> list[CourseState]:
        if status.is_terminal:
            raise ValueError(f"a {status.value} course is not in progress")
        cutoff = format_time(before)
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": IDLE_INDEX,
            "KeyConditionExpression": "in_progress = :status AND updated_at < :before",
            "ExpressionAttributeValues": {":status": {"S": status.value}, ":before": {"S": cutoff}},
            "ScanIndexForward": True,
        }
        kept: list[CourseState] = []
        while len(kept) < limit:
            page = self.client.query(**query, Limit=limit - len(kept))
            ids = [item["course_id"]["S"] for item in page["Items"]]
            # The index is read eventually consistently: a course may have moved on since.
            states = self._read_many(ids)
            kept.extend(
                state
                for course_id in ids
                if (state := states.get(course_id)) is not None
                and state.status is status
                and sort_key(state.updated_at) < cutoff
            )
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return kept

    def _read_many(self, course_ids: list[str]) -> dict[str, CourseState]:
        """The states of `course_ids` that exist, read consistently, by course id."""
        return {item["course_id"]["S"]: _parse(item) for item in self._get_many(course_ids)}

    def delete(self, course_id: str, version: int) -> None:
        try:
            self.client.delete_item(
                TableName=self._table,
                Key={"course_id": {"S": course_id}},
                ConditionExpression="#version = :expected",
                ExpressionAttributeNames={"#version": "version"},
                ExpressionAttributeValues={":expected": {"N": str(version)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StaleState(f"course {course_id} is no longer at version {version}") from exc
            raise
        # The part results of parallel sections, one item per part (deleting a missing key is
        # a no-op); left behind, they would only wait for the TTL.
        most_parts = rules.part_count_range(MAX_HOURS)[1]
        requests: list[dict[str, Any]] = [
            {
                "DeleteRequest": {
                    "Key": {"course_id": {"S": PART_KEY.format(course_id=course_id, part_index=k)}}
                }
            }
            for k in range(most_parts)
        ]
        while requests:
            answer = self.client.batch_write_item(RequestItems={self._table: requests})
            requests = answer.get("UnprocessedItems", {}).get(self._table, [])

    def put_part(self, course_id: str, part_index: int, result: PartResult) -> None:
        key = PART_KEY.format(course_id=course_id, part_index=part_index)
        try:
            self.client.put_item(
                TableName=self._table,
                Item={
                    "course_id": {"S": key},
                    "ttl": {"N": str(int(self._clock()) + self._ttl_seconds)},
                    "body": {"B": zlib.compress(result.model_dump_json().encode(), 6)},
                },
                # The first writer of a part wins; a duplicate delivery's write is refused.
                ConditionExpression="attribute_not_exists(course_id)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StaleState(f"course {course_id}: part {part_index + 1} is written already") from exc
            raise

    def get_parts(self, course_id: str, part_count: int) -> dict[int, PartResult]:
        keys = {PART_KEY.format(course_id=course_id, part_index=k): k for k in range(part_count)}
        return {
            keys[item["course_id"]["S"]]: PartResult.model_validate_json(zlib.decompress(item["body"]["B"]))
            for item in self._get_many(list(keys))
        }

    def _get_many(self, item_keys: list[str]) -> Iterator[dict[str, Any]]:
        """The items of `item_keys` that exist, read consistently (BatchGetItem: at most 100 keys a
        call; the keys a call leaves unprocessed are asked again)."""
        pending = [{"course_id": {"S": key}} for key in dict.fromkeys(item_keys)]
        while pending:
            batch, pending = pending[:100], pending[100:]
            request: dict[str, Any] = {self._table: {"Keys": batch, "ConsistentRead": True}}
            while request:
                answer = self.client.batch_get_item(RequestItems=request)
                yield from answer.get("Responses", {}).get(self._table, [])
                request = answer.get("UnprocessedKeys") or {}

    def _put(
        self,
        state: CourseState,
        condition: str,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        extra: dict[str, Any] = {}
        if names:
            extra["ExpressionAttributeNames"] = names
        if values:
            extra["ExpressionAttributeValues"] = values
        try:
            self.client.put_item(
                TableName=self._table, Item=self._item(state), ConditionExpression=condition, **extra
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StaleState(
                    f"course {state.course_id}: conditional write of version {state.version} lost"
                ) from exc
            raise

    def _item(self, state: CourseState) -> dict[str, dict[str, Any]]:
        item: dict[str, dict[str, Any]] = {
            "course_id": {"S": state.course_id},
            "user_id": {"S": state.user_id},
            "status": {"S": state.status.value},
            "version": {"N": str(state.version)},
            "created_at": {"S": state.created_at},
            "updated_at": {"S": sort_key(state.updated_at)},
            # Refreshed on every write, so only courses idle for ttl_days expire.
            "ttl": {"N": str(int(self._clock()) + self._ttl_seconds)},
            "body": {"B": zlib.compress(state.model_dump_json().encode(), 6)},
        }
        if not state.status.is_terminal:
            # A put replaces the whole item: a finished course's item has no `in_progress`, so
            # it leaves the idle index.
            item["in_progress"] = {"S": state.status.value}
        return item


def _parse(item: dict[str, Any]) -> CourseState:
    return CourseState.model_validate_json(zlib.decompress(item["body"]["B"]))


def _reparsed(state: CourseState) -> CourseState:
    """What `get` will return: the same state after the JSON round trip (embedding as float32)."""
    return CourseState.model_validate_json(state.model_dump_json())


def create_table(client: BaseClient, table_name: str) -> None:
    """Create the state table with its user and idle indexes and TTL. For local use and tests only:
    in AWS, Terraform creates the table."""
    client.create_table(
        TableName=table_name,
        AttributeDefinitions=[
            {"AttributeName": "course_id", "AttributeType": "S"},
            {"AttributeName": "user_id", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
            {"AttributeName": "in_progress", "AttributeType": "S"},
            {"AttributeName": "updated_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "course_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": USER_INDEX,
                "KeySchema": [
                    {"AttributeName": "user_id", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": IDLE_INDEX,
                "KeySchema": [
                    {"AttributeName": "in_progress", "KeyType": "HASH"},
                    {"AttributeName": "updated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
    )
