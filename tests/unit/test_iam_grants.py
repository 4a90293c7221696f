"""Every AWS call the runtime adapters make is granted by some statement of the IAM module: a call
added to an adapter without its permission fails here, not with AccessDenied on a deployed stack
(moto does not enforce IAM)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IAM = ROOT / "terraform" / "modules" / "iam" / "main.tf"
# The adapters that run in the functions, and the AWS service each one's client talks to.
ADAPTERS = {
    "dynamodb": ROOT / "chalicelib" / "adapters" / "dynamodb_state.py",
    "events": ROOT / "chalicelib" / "adapters" / "eventbridge.py",
    "secretsmanager": ROOT / "chalicelib" / "adapters" / "db_secret.py",
    "s3": ROOT / "chalicelib" / "adapters" / "s3_documents.py",
}
# Set-up helpers of the same modules that only tests and operators call (not the functions).
NOT_IN_THE_FUNCTIONS = {"create_table", "get_waiter", "update_time_to_live"}
# Calls IAM has no action for: it checks the action of each item they write instead (the
# adapters' transactions only put items).
CHECKED_PER_ITEM = {"TransactWriteItems": {"PutItem"}}


def granted(service: str) -> set[str]:
    return set(re.findall(rf'"{service}:(\w+)"', IAM.read_text()))


def called(module: Path) -> set[str]:
    methods = set(re.findall(r"\bclient\.(\w+)\(", module.read_text())) - NOT_IN_THE_FUNCTIONS
    names = {"".join(word.capitalize() for word in method.split("_")) for method in methods}
    for name, actions in CHECKED_PER_ITEM.items():
        if name in names:
            names = (names - {name}) | actions
    return names


def test_every_call_of_the_runtime_adapters_is_granted() -> None:
    for service, module in ADAPTERS.items():
        calls = called(module)
        assert calls, f"no client calls found in {module.name}: the pattern is out of date"
        missing = calls - granted(service)
        assert not missing, f"{module.name} calls {sorted(missing)} with no {service}: grant in {IAM.name}"


def test_the_check_reads_calls_as_iam_names_them() -> None:
    assert called(ADAPTERS["dynamodb"]) >= {"GetItem", "PutItem", "Query", "BatchGetItem"}
    assert called(ADAPTERS["events"]) == {"PutEvents"}
    assert called(ADAPTERS["secretsmanager"]) == {"GetSecretValue"}
    assert called(ADAPTERS["s3"]) == {"GetObject"}


def test_the_state_stores_transactions_only_put_items() -> None:
    # What CHECKED_PER_ITEM assumes: a transaction item of another kind needs its own action.
    kinds = set(re.findall(r'"(Put|Update|Delete|ConditionCheck)": \{', ADAPTERS["dynamodb"].read_text()))
    assert kinds == {"Put"}
