"""Why the generated module accepts the checkov findings it does, written into each resource as a
Terraform JSON comment (`"//"`). Checkov cannot read skip comments in JSON, so tests/deploy
checks that every failed check on the module names its check id in the resource's comment.
"""

from __future__ import annotations

from typing import Any

COMMENT = "//"

_LAMBDA = {
    "CKV_AWS_115": "No reserved concurrency: it is carved out of the account's pool (10 in new "
    "accounts) and would throttle the workflow; set lambda_functions.*.reserved_concurrency per stage.",
    "CKV_AWS_116": "Async handlers send failures to the on-failure destination (the DLQ) through "
    "aws_lambda_function_event_invoke_config; the API handler is synchronous and the DLQ consumer "
    "polls SQS, so a function-level DLQ would only duplicate records.",
    "CKV_AWS_173": "Environment variables hold names and ARNs only; the database password stays "
    "in Secrets Manager. Lambda encrypts them at rest with an AWS-managed key.",
    "CKV_AWS_272": "Chalice builds an unsigned zip; code signing needs an AWS Signer profile and a "
    "signing step in the pipeline.",
}
_OUTSIDE_VPC = (
    "CKV_AWS_117",
    "Deliberately outside the VPC: it does not use the database and calls the model endpoint and "
    "AWS APIs over Lambda's own internet access (no NAT needed).",
)
_STAGE = {
    "CKV_AWS_76": "Access logs need the account-wide API Gateway CloudWatch role "
    "(aws_api_gateway_account), which other stacks of the account may own; Lambda logs every request.",
    "CKV_AWS_120": "No cache: responses are per caller and change while a course is built.",
    "CKV2_AWS_4": "Execution logging needs the same account-wide CloudWatch role as access logs.",
    "CKV2_AWS_29": "No WAF in dev (about 5 USD a month plus rules); put one in front for production.",
    "CKV2_AWS_51": "Client certificates authenticate API Gateway to backends; callers are users.",
}
_LOG_GROUP = {
    "CKV_AWS_158": "CloudWatch Logs encrypts at rest with its own key; the logs hold course ids, "
    "phases and errors, no secrets. A KMS key would add a key policy for the logs service.",
    "CKV_AWS_338": "Retention is var.log_retention_days (30 by default): debugging logs of a dev "
    "workflow, not an audit trail.",
}


def annotate(resources: dict[str, Any]) -> None:
    """Add the justifications to every resource they apply to."""
    for function in resources.get("aws_lambda_function", {}).values():
        reasons = dict(_LAMBDA)
        if "vpc_config" not in function:
            reasons[_OUTSIDE_VPC[0]] = _OUTSIDE_VPC[1]
        _comment(function, reasons)
    for stage in resources.get("aws_api_gateway_stage", {}).values():
        _comment(stage, _STAGE)
    for group in resources.get("aws_cloudwatch_log_group", {}).values():
        _comment(group, _LOG_GROUP)


def _comment(resource: dict[str, Any], reasons: dict[str, str]) -> None:
    resource[COMMENT] = [f"checkov:skip={check}:{reason}" for check, reason in sorted(reasons.items())]
