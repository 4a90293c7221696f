"""Rewrites the Terraform JSON of `chalice package --pkg-format terraform` into a child module that
terraform/environments/<stage> composes with our modules.

Chalice puts `on_cw_event` rules on the default bus with bare names, gives targets no retry policy
or DLQ, pins Terraform < 1.4 and AWS provider < 5, needs the `null` provider, and derives the SQS
consumer's queue ARN from a name. Each rewrite below fixes one of those; a handler of the app
without a rule (or a rule without a handler) stops the rewrite with an error.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib import book_uploads, dead_letters, migrate_handler, web
from chalicelib.core import registry, watchdog

Doc = dict[str, Any]
Pattern = dict[str, Any]

BUS_VAR = "${var.event_bus_name}"
USER_POOL_VAR = "${var.learner_user_pool_arn}"
DLQ_VAR = "${var.dead_letter_queue_arn}"
BOOKS_BUCKET_VAR = "${var.books_bucket_arn}"
BOOKS_BUCKET_NAME_VAR = "${var.books_bucket_name}"
# The layer of document readers deploy/package.py builds beside the deployment zip.
READERS_LAYER_FILE = "readers-layer.zip"
_REF = re.compile(r"^\$\{aws_(?:lambda_function|cloudwatch_event_rule)\.([A-Za-z0-9_-]+)\.(?:arn|name)\}$")
_VAR = re.compile(r"\bvar\.([A-Za-z_][A-Za-z0-9_-]*)")
_DATA = re.compile(r"\bdata\.([a-z0-9_]+)\.([A-Za-z0-9_-]+)")

# Variables the rewrite itself introduces; the rest come from `${var.x}` in .chalice/config.json.
_OWN_VARIABLES: dict[str, Doc] = {
    "event_bus_name": {"type": "string", "description": "The custom bus the workflow rules live on."},
    "dead_letter_queue_arn": {
        "type": "string",
        "description": "SQS queue for events that failed for good: target DLQ, on-failure "
        "destination, and the queue course-dead-letter-handler consumes.",
    },
    "function_role_arns": {
        "type": "map(string)",
        "description": "Execution role ARN per concern: api, planners, database, dead_letters, migrate, "
        "watchdog, ingestion (the iam module's role_arns).",
    },
    "learner_user_pool_arn": {
        "type": "string",
        "description": "The Cognito user pool whose ID tokens the /app routes accept "
        "(the cognito module's user_pool_arn).",
    },
    "books_bucket_arn": {
        "type": "string",
        "description": "The books bucket (the books-bucket module's bucket_arn): S3 may invoke the "
        "ingestion function for its uploads.",
    },
    "books_bucket_name": {
        "type": "string",
        "description": "The books bucket's name: the ingestion function's layer of document readers "
        "is put there, under artifacts/.",
    },
    "log_retention_days": {
        "type": "number",
        "default": 30,
        "description": "Retention of the functions' CloudWatch log groups.",
    },
}


class PostProcessError(Exception):
    """The generated Terraform does not match the app; the message says what is missing."""


@dataclass(frozen=True)
class Options:
    app_name: str
    stage: str
    # EventBridge -> Lambda delivery (throttling, Lambda unavailable). AWS defaults: 24 h, 185 tries;
    # a learner waiting for an outline is better served by failing within the hour.
    delivery_max_age_seconds: int = 3600
    delivery_max_attempts: int = 24
    # Lambda's own retries of a handler that raised (2 is AWS's maximum); then the DLQ.
    invoke_max_retries: int = 2
    invoke_max_age_seconds: int = 3600


def expected_rules(app: Any | None = None) -> dict[str, Pattern]:
    """Handler name -> rule pattern, from chalicelib.core.registry; with `app`, also checked
    against the handlers app.py registers, so the two cannot drift apart."""
    expected = {spec.handler: spec.pattern for spec in registry.HANDLERS}
    if app is not None:
        from chalice.app import CloudWatchEventConfig

        declared = {
            source.name: source.event_pattern
            for source in app.event_sources
            if isinstance(source, CloudWatchEventConfig)
        }
        if declared != expected:
            raise PostProcessError(
                f"app.py's event handlers {sorted(declared)} differ from the registry's {sorted(expected)}"
            )
    return expected


def postprocess(doc: Doc, options: Options, expected: Mapping[str, Pattern] | None = None) -> Doc:
    """The rewritten module; `doc` is left unchanged."""
    out = copy.deepcopy(doc)
    resources = out.setdefault("resource", {})
    _name_schedules(resources, options)
    rules = _rules_by_handler(resources, expected_rules() if expected is None else expected)
    for handler, key in rules.items():
        _place_on_bus(resources, key, handler, options)
        _add_invoke_config(resources, handler, options)
    _consume_dead_letters(resources)
    _assign_roles(resources, set(rules))
    _configure_migration_function(out, set(rules))
    _wire_books_bucket(out, options)
    _add_log_groups(resources)
    _explicit_api_stage(out, options.stage)
    _wire_user_pool(out)
    _add_gateway_responses(out)
    out["terraform"] = {
        "required_version": ">= 1.3.0",
        "required_providers": {"aws": {"source": "hashicorp/aws", "version": "~> 5.0"}},
    }
    _drop_unused_data(out)
    _add_outputs(out, rules, options)
    _add_monitoring_outputs(out, options)
    out["variable"] = _variables(out, options.stage)
    return out


def _rules_by_handler(resources: Doc, expected: Mapping[str, Pattern]) -> dict[str, str]:
    """Handler -> rule resource key, matched through the targets; every mismatch is an error.
    Schedules (rules with a schedule expression) are not workflow rules and are left out."""
    rules = {
        key: rule
        for key, rule in resources.get("aws_cloudwatch_event_rule", {}).items()
        if "schedule_expression" not in rule
    }
    handler_of: dict[str, str] = {}
    for target in resources.get("aws_cloudwatch_event_target", {}).values():
        rule, function = _ref(target.get("rule")), _ref(target.get("arn"))
        if rule and function:
            handler_of[rule] = function
    problems = [f"rule {key} has no handler" for key in rules if key not in handler_of]
    by_handler = {handler: rule for rule, handler in handler_of.items() if rule in rules}
    problems += [
        f"rule {by_handler[h]} targets {h}, which app.py does not declare"
        for h in by_handler
        if h not in expected
    ]
    problems += [f"handler {h} has no rule" for h in expected if h not in by_handler]
    for handler, key in by_handler.items():
        declared = json.loads(rules[key].get("event_pattern", "null"))
        if handler in expected and declared != expected[handler]:
            problems.append(f"rule {key} has pattern {declared}, app.py declares {expected[handler]}")
    if problems:
        raise PostProcessError("chalice output does not match the app: " + "; ".join(sorted(problems)))
    return dict(sorted(by_handler.items()))


SCHEDULED = {watchdog.HANDLER_NAME}  # the functions app.py runs on a schedule


def _name_schedules(resources: Doc, options: Options) -> None:
    """A schedule stays on the default bus (EventBridge runs schedules there only); its rule gets
    the app and stage in its name, as rule names are unique per account and region."""
    rules = resources.get("aws_cloudwatch_event_rule", {})
    handler_of = {
        _ref(target.get("rule")): _ref(target.get("arn"))
        for target in resources.get("aws_cloudwatch_event_target", {}).values()
    }
    for key, rule in rules.items():
        if "schedule_expression" not in rule:
            continue
        handler = handler_of.get(key)
        if handler not in SCHEDULED:
            raise PostProcessError(f"schedule {key} runs {handler}, which is not a scheduled function")
        rule.update(name=f"{options.app_name}-{options.stage}-{handler}", description=f"Runs {handler}")


def _ref(value: Any) -> str | None:
    match = _REF.match(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def _place_on_bus(resources: Doc, key: str, handler: str, options: Options) -> None:
    name = f"{options.app_name}-{options.stage}-{handler}"
    if len(name) > 64:
        raise PostProcessError(f"rule name {name} is longer than EventBridge's 64 characters")
    rule = resources["aws_cloudwatch_event_rule"][key]
    rule.update(name=name, event_bus_name=BUS_VAR, description=f"Workflow events for {handler}")
    target = resources["aws_cloudwatch_event_target"][key]
    target.update(
        event_bus_name=BUS_VAR,
        dead_letter_config={"arn": DLQ_VAR},
        retry_policy={
            "maximum_event_age_in_seconds": options.delivery_max_age_seconds,
            "maximum_retry_attempts": options.delivery_max_attempts,
        },
    )


def _add_invoke_config(resources: Doc, handler: str, options: Options) -> None:
    # EventBridge invokes asynchronously: errors raised by the handler are retried by Lambda and
    # then sent to the on-failure destination, which the target's DLQ does not cover.
    resources.setdefault("aws_lambda_function_event_invoke_config", {})[handler] = {
        "function_name": f"${{aws_lambda_function.{handler}.function_name}}",
        "maximum_retry_attempts": options.invoke_max_retries,
        "maximum_event_age_in_seconds": options.invoke_max_age_seconds,
        "destination_config": {"on_failure": {"destination": DLQ_VAR}},
    }


def _consume_dead_letters(resources: Doc) -> None:
    mappings = resources.get("aws_lambda_event_source_mapping", {})
    function = f"${{aws_lambda_function.{dead_letters.HANDLER_NAME}.arn}}"
    found = [m for m in mappings.values() if m.get("function_name") == function]
    if len(found) != 1 or not str(found[0].get("event_source_arn", "")).endswith(
        f":{dead_letters.QUEUE_PLACEHOLDER}"
    ):
        raise PostProcessError(f"expected one SQS event source for {dead_letters.HANDLER_NAME}")
    found[0]["event_source_arn"] = DLQ_VAR


API_FUNCTION = "api_handler"  # Chalice's name for the function behind every route
MIGRATION_FUNCTION = migrate_handler.HANDLER_NAME
INGESTION_FUNCTION = book_uploads.HANDLER_NAME
# Waiting for the advisory lock, and for a paused Aurora (min_capacity 0) to resume.
MIGRATION_TIMEOUT_SECONDS = 300


def role_of(function: str, function_config: Doc, event_handlers: set[str]) -> str | None:
    """The concern whose execution role a function gets (a key of the iam module's role_arns)."""
    if function == API_FUNCTION:
        return "api"
    if function == dead_letters.HANDLER_NAME:
        return "dead_letters"
    if function == MIGRATION_FUNCTION:
        return "migrate"
    if function == watchdog.HANDLER_NAME:
        return "watchdog"
    if function == INGESTION_FUNCTION:
        return "ingestion"
    if function in event_handlers:
        # .chalice/config.json puts the handlers that use the database in the VPC.
        return "database" if "vpc_config" in function_config else "planners"
    return None


def _assign_roles(resources: Doc, event_handlers: set[str]) -> None:
    """Each function runs with the role of its concern instead of the stage's one role."""
    unknown = []
    for key, function in resources.get("aws_lambda_function", {}).items():
        concern = role_of(key, function, event_handlers)
        if concern is None:
            unknown.append(key)
        else:
            function["role"] = f"${{var.function_role_arns.{concern}}}"
    if unknown:
        raise PostProcessError(f"no execution role for function(s) {', '.join(sorted(unknown))}")


def _configure_migration_function(out: Doc, event_handlers: set[str]) -> None:
    """The migration function runs in the VPC beside the database handlers, and the module
    outputs what the environment needs to invoke it when the migrations change."""
    functions = out["resource"].get("aws_lambda_function", {})
    if MIGRATION_FUNCTION not in functions:
        raise PostProcessError(
            f"app.py declares no {MIGRATION_FUNCTION} function: nothing would create the schema"
        )
    in_vpc = [
        function["vpc_config"]
        for key, function in sorted(functions.items())
        if role_of(key, function, event_handlers) == "database"
    ]
    if not in_vpc:
        raise PostProcessError(
            "no database handler runs in the VPC: the migration function would not reach Aurora"
        )
    function = functions[MIGRATION_FUNCTION]
    function["vpc_config"] = copy.deepcopy(in_vpc[0])
    function["timeout"] = MIGRATION_TIMEOUT_SECONDS
    outputs = out.setdefault("output", {})
    outputs["migration_function_name"] = {
        "value": f"${{aws_lambda_function.{MIGRATION_FUNCTION}.function_name}}",
        "description": "Applies the schema migrations to Aurora when invoked.",
    }
    outputs["migrations_sha256"] = {
        "value": migrate_handler.migrations_digest(),
        "description": "Digest of the migrations in the package: the trigger of the migration invocation.",
    }


def _wire_books_bucket(out: Doc, options: Options) -> None:
    """The ingestion function is invoked by the environment's books bucket. Chalice writes the
    bucket's notification and the invoke permission for the placeholder bucket app.py names; the
    bucket and its one notification configuration belong to the books-bucket module, so the
    notification moves out as an output (created only after the permission, or S3 refuses it) and
    the permission names the module's bucket."""
    resources = out["resource"]
    functions = resources.get("aws_lambda_function", {})
    if INGESTION_FUNCTION not in functions:
        raise PostProcessError(f"app.py declares no {INGESTION_FUNCTION}: uploaded books would never load")
    if "vpc_config" not in functions[INGESTION_FUNCTION]:
        raise PostProcessError(
            f"{INGESTION_FUNCTION} does not run in the VPC (.chalice/config.json): it would not reach Aurora"
        )
    notifications = resources.pop("aws_s3_bucket_notification", {})
    wanted = f"${{aws_lambda_function.{INGESTION_FUNCTION}.arn}}"
    found = [
        (key, target)
        for key, notification in notifications.items()
        if notification.get("bucket") == book_uploads.BUCKET_PLACEHOLDER
        for target in notification.get("lambda_function", [])
        if target.get("lambda_function_arn") == wanted
    ]
    others = [key for key, n in notifications.items() if n.get("bucket") != book_uploads.BUCKET_PLACEHOLDER]
    if len(found) != 1 or others:
        raise PostProcessError(
            f"expected one S3 notification of bucket {book_uploads.BUCKET_PLACEHOLDER} for "
            f"{INGESTION_FUNCTION}, found {len(found)} (and buckets {others})"
        )
    target = found[0][1]
    permissions = resources.get("aws_lambda_permission", {})
    invoked_by_s3 = [
        key
        for key, permission in permissions.items()
        if permission.get("function_name") == wanted
        and str(permission.get("principal", "")).startswith("s3.")
    ]
    if len(invoked_by_s3) != 1:
        raise PostProcessError(f"expected one S3 invoke permission for {INGESTION_FUNCTION}")
    permission = invoked_by_s3[0]
    permissions[permission]["source_arn"] = BOOKS_BUCKET_VAR
    # S3 invokes asynchronously: Lambda retries a raised error twice (the handler records the
    # failure first). No on-failure destination: the dead-letter queue carries workflow events only.
    # The document readers (PDFium, lxml, markdown-it, yake, WordLlama and numpy) reach this
    # function only, as a layer: Chalice packages one zip for every function.
    # At about 70 MB the layer is over what Lambda accepts uploaded directly (50 MB), so it goes
    # through the books bucket, under artifacts/ (outside books/: no notification, and the
    # ingestion role cannot read it); the bucket keeps versions, and the layer names the one put.
    function = functions[INGESTION_FUNCTION]
    layer_path = f"${{path.module}}/{READERS_LAYER_FILE}"
    resources.setdefault("aws_s3_object", {})["readers_layer"] = {
        "bucket": BOOKS_BUCKET_NAME_VAR,
        "key": f"artifacts/{options.app_name}-{options.stage}-{READERS_LAYER_FILE}",
        "source": layer_path,
        "source_hash": f'${{filemd5("{layer_path}")}}',
    }
    resources.setdefault("aws_lambda_layer_version", {})["readers"] = {
        "layer_name": f"{options.app_name}-{options.stage}-document-readers",
        "description": f"Document readers of {INGESTION_FUNCTION} (requirements-ingest.txt)",
        "s3_bucket": "${aws_s3_object.readers_layer.bucket}",
        "s3_key": "${aws_s3_object.readers_layer.key}",
        "s3_object_version": "${aws_s3_object.readers_layer.version_id}",
        "source_code_hash": f'${{filebase64sha256("{layer_path}")}}',
        "compatible_runtimes": [function["runtime"]],
        "compatible_architectures": function.get("architectures", ["x86_64"]),
    }
    function["layers"] = ["${aws_lambda_layer_version.readers.arn}"]
    resources.setdefault("aws_lambda_function_event_invoke_config", {})[INGESTION_FUNCTION] = {
        "function_name": f"${{aws_lambda_function.{INGESTION_FUNCTION}.function_name}}",
        "maximum_retry_attempts": options.invoke_max_retries,
        "maximum_event_age_in_seconds": options.invoke_max_age_seconds,
    }
    out.setdefault("output", {})["books_notification"] = {
        "value": {
            "function_arn": wanted,
            "events": target["events"],
            "filter_prefix": target.get("filter_prefix", ""),
        },
        "description": "What the books bucket notifies: the ingestion function, for objects created "
        "under the prefix (the books-bucket module's notification).",
        "depends_on": [f"aws_lambda_permission.{permission}"],
    }


def _add_log_groups(resources: Doc) -> None:
    # Created before the functions, so Lambda does not create them first with no retention.
    groups = resources.setdefault("aws_cloudwatch_log_group", {})
    for key, function in resources.get("aws_lambda_function", {}).items():
        groups[key] = {
            "name": f"/aws/lambda/{function['function_name']}",
            "retention_in_days": "${var.log_retention_days}",
        }
        function["depends_on"] = [f"aws_cloudwatch_log_group.{key}"]


def _explicit_api_stage(out: Doc, stage: str) -> None:
    """An `aws_api_gateway_stage` instead of the deployment's `stage_name`, which the AWS
    provider deprecates in 5.x and removes in 6.0; the stage gets X-Ray tracing."""
    deployment = out["resource"].get("aws_api_gateway_deployment", {}).get("rest_api")
    if deployment is None:
        return
    deployment.pop("stage_name", None)
    deployment.pop("stage_description", None)
    deployment["triggers"] = {"redeployment": "${md5(local.chalice_api_swagger)}"}
    # A replaced API is created first, so its stage and permission never point at nothing.
    out["resource"]["aws_api_gateway_rest_api"]["rest_api"]["lifecycle"] = {"create_before_destroy": True}
    out["resource"]["aws_api_gateway_stage"] = {
        "rest_api": {
            "rest_api_id": "${aws_api_gateway_rest_api.rest_api.id}",
            "deployment_id": "${aws_api_gateway_deployment.rest_api.id}",
            "stage_name": stage,
            "xray_tracing_enabled": True,
        }
    }
    url = "${aws_api_gateway_stage.rest_api.invoke_url}"
    out.setdefault("output", {})["EndpointURL"] = {"value": url}
    out["output"]["course_request_endpoint"] = {
        "value": url + "/courses",
        "description": "POST a course request here.",
    }


def _wire_user_pool(out: Doc) -> None:
    """The Cognito authorizer of the browser's /app routes names the environment's user pool: app.py
    can only name a placeholder, since the pool is created by the same apply."""
    swagger = out.get("locals", {}).get("chalice_api_swagger")
    if isinstance(swagger, str) and web.USER_POOL_ARN_PLACEHOLDER in swagger:
        out["locals"]["chalice_api_swagger"] = swagger.replace(web.USER_POOL_ARN_PLACEHOLDER, USER_POOL_VAR)


# What API Gateway answers itself, before any route runs, in the app's error shape (http.py):
# response type -> (status, or None for API Gateway's own; code; message, or None for API
# Gateway's own, which is a sentence). MISSING_AUTHENTICATION_TOKEN is what an unknown path or
# method gets (and an IAM route called unsigned: API Gateway cannot tell the two apart).
GATEWAY_RESPONSES: dict[str, tuple[int | None, str, str | None]] = {
    "MISSING_AUTHENTICATION_TOKEN": (
        404,
        "not_found",
        "no route answers this method and path, or the request is not signed "
        "(the API takes requests signed with AWS Signature Version 4)",
    ),
    "UNAUTHORIZED": (401, "unauthenticated", "the request carries no valid sign-in token"),
    "ACCESS_DENIED": (403, "forbidden", "the caller may not call this route"),
    "THROTTLED": (429, "throttled", "too many requests; try again shortly"),
    "DEFAULT_4XX": (None, "request_refused", None),
    "DEFAULT_5XX": (None, "internal_error", None),
}
_RETRY_AFTER = {"THROTTLED": "1"}  # seconds, sent as Retry-After
GATEWAY_RESPONSES_KEY = "x-amazon-apigateway-gateway-responses"


def gateway_response_template(code: str, message: str | None) -> str:
    """The body API Gateway sends: a fixed message as JSON, else its own (already quoted)."""
    shown = json.dumps(message) if message is not None else "$context.error.messageString"
    return f'{{"error": {{"code": {json.dumps(code)}, "message": {shown}, "field": null}}}}'


def gateway_responses() -> Doc:
    """The OpenAPI extension that sets API Gateway's own answers."""
    responses: Doc = {}
    for kind, (status, code, message) in GATEWAY_RESPONSES.items():
        response: Doc = {"responseTemplates": {"application/json": gateway_response_template(code, message)}}
        if status is not None:
            response["statusCode"] = str(status)
        if kind in _RETRY_AFTER:
            response["responseParameters"] = {"gatewayresponse.header.Retry-After": f"'{_RETRY_AFTER[kind]}'"}
        responses[kind] = response
    return responses


def _add_gateway_responses(out: Doc) -> None:
    """API Gateway's own answers (an unknown route, a throttled or unauthorized call) in the
    app's error shape. They go into the API's OpenAPI document rather than separate
    `aws_api_gateway_gateway_response` resources: Terraform re-imports the document (PutRestApi,
    overwrite) whenever the routes change, which drops gateway responses the document does not
    hold; in the document they are imported with it and redeployed by the same trigger."""
    swagger = out.get("locals", {}).get("chalice_api_swagger")
    if not isinstance(swagger, str):
        return
    document = json.loads(swagger)
    document[GATEWAY_RESPONSES_KEY] = gateway_responses()
    out["locals"]["chalice_api_swagger"] = json.dumps(document)


def _drop_unused_data(out: Doc) -> None:
    data = out.get("data", {})
    data.pop("null_data_source", None)  # Chalice's only use of the null provider, read by nothing
    rest = json.dumps({key: value for key, value in out.items() if key != "data"})
    used = set(_DATA.findall(rest))
    for kind in list(data):
        for name in list(data[kind]):
            if (kind, name) not in used:
                del data[kind][name]
        if not data[kind]:
            del data[kind]
    if not data:
        out.pop("data", None)


def _add_outputs(out: Doc, rules: Mapping[str, str], options: Options) -> None:
    resources = out["resource"]
    outputs = out.setdefault("output", {})
    outputs["function_name_prefix"] = {
        "value": f"{options.app_name}-{options.stage}",
        "description": "Every function name starts with this (log group and IAM scoping).",
    }
    outputs["rule_names"] = {
        "value": {h: resources["aws_cloudwatch_event_rule"][key]["name"] for h, key in rules.items()},
        "description": "Handler -> EventBridge rule name on the custom bus.",
    }
    outputs["function_names"] = {
        "value": {key: f["function_name"] for key, f in resources.get("aws_lambda_function", {}).items()},
        "description": "Chalice function name -> Lambda function name.",
    }


def _add_monitoring_outputs(out: Doc, options: Options) -> None:
    """The API's metric dimensions (ApiName, Stage), for the alarms and the dashboard."""
    if "rest_api" not in out["resource"].get("aws_api_gateway_rest_api", {}):
        return
    outputs = out.setdefault("output", {})
    outputs["api_name"] = {
        "value": "${aws_api_gateway_rest_api.rest_api.name}",
        "description": "Name of the REST API (the ApiName dimension of its metrics).",
    }
    outputs["api_stage_name"] = {
        "value": "${aws_api_gateway_stage.rest_api.stage_name}",
        "description": "The API stage (the Stage dimension of its metrics).",
    }


def _variables(out: Doc, stage: str) -> Doc:
    found: dict[str, Doc] = {}
    for key, value in _strings(out):
        for name in _VAR.findall(value):
            if name in _OWN_VARIABLES or name in found:
                continue
            # A reference that is a whole list-valued setting (subnet_ids) is a list.
            whole = value == f"${{var.{name}}}"
            found[name] = {
                "type": "list(string)" if whole and key.endswith("_ids") else "string",
                "description": f"From .chalice/config.json (stage {stage}), as `{key.removesuffix('[]')}`.",
            }
    used = {name for _, value in _strings(out) for name in _VAR.findall(value)}
    own = {name: spec for name, spec in _OWN_VARIABLES.items() if name in used}
    return dict(sorted({**own, **found}.items()))


def _strings(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(nearest key, string) for every string in the document; list elements get `key[]`."""
    if isinstance(node, str):
        yield key, node
    elif isinstance(node, dict):
        for child_key, child in node.items():
            yield from _strings(child, child_key)
    elif isinstance(node, list):
        for child in node:
            yield from _strings(child, f"{key}[]")  # an element of a list, not the list
