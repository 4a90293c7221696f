"""The post-processor on the real `chalice package --pkg-format terraform` output of this app."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app import app
from chalicelib import book_uploads, dead_letters, http, migrate_handler
from chalicelib.core import registry, watchdog
from deploy.postprocess import (
    BOOKS_BUCKET_VAR,
    BUS_VAR,
    DLQ_VAR,
    GATEWAY_RESPONSES_KEY,
    Options,
    PostProcessError,
    expected_rules,
    postprocess,
)

Doc = dict[str, Any]


@pytest.fixture
def module(raw_module: Doc, options: Options) -> Doc:
    return postprocess(raw_module, options)


def rule_of(module: Doc, handler: str) -> Doc:
    rule: Doc = module["resource"]["aws_cloudwatch_event_rule"][f"{handler}-event"]
    return rule


def workflow_rules(module: Doc) -> Doc:
    """The rules of the workflow's events (the schedules aside)."""
    rules = module["resource"]["aws_cloudwatch_event_rule"]
    return {key: rule for key, rule in rules.items() if "schedule_expression" not in rule}


def test_every_handler_of_the_app_has_its_rule_on_the_custom_bus_named_by_app_and_stage(module: Doc) -> None:
    rules = workflow_rules(module)
    assert len(rules) == len(registry.HANDLERS)
    for spec in registry.HANDLERS:
        rule = rule_of(module, spec.handler)
        assert rule["event_bus_name"] == BUS_VAR
        assert rule["name"] == f"coursegen-dev-{spec.handler}"
        assert json.loads(rule["event_pattern"]) == spec.pattern


def test_every_target_gets_the_dead_letter_queue_and_a_retry_policy(module: Doc) -> None:
    targets = {
        key: target
        for key, target in module["resource"]["aws_cloudwatch_event_target"].items()
        if key in workflow_rules(module)
    }
    assert len(targets) == len(registry.HANDLERS)
    for handler in registry.BY_HANDLER:
        target = targets[f"{handler}-event"]
        assert target["arn"] == f"${{aws_lambda_function.{handler}.arn}}"
        assert target["event_bus_name"] == BUS_VAR
        assert target["dead_letter_config"] == {"arn": DLQ_VAR}
        assert target["retry_policy"] == {"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 24}


def test_every_event_handler_retries_twice_then_sends_its_failure_to_the_dead_letter_queue(
    module: Doc,
) -> None:
    configs = dict(module["resource"]["aws_lambda_function_event_invoke_config"])
    configs.pop(book_uploads.HANDLER_NAME)  # S3's, not a workflow event: no dead-letter queue
    assert set(configs) == set(registry.BY_HANDLER)
    for handler, config in configs.items():
        assert config["function_name"] == f"${{aws_lambda_function.{handler}.function_name}}"
        assert config["maximum_retry_attempts"] == 2
        assert config["destination_config"] == {"on_failure": {"destination": DLQ_VAR}}


def test_the_dead_letter_consumer_reads_the_queue_of_the_eventbridge_module(module: Doc) -> None:
    [mapping] = module["resource"]["aws_lambda_event_source_mapping"].values()
    assert mapping["function_name"] == f"${{aws_lambda_function.{dead_letters.HANDLER_NAME}.arn}}"
    assert mapping["event_source_arn"] == DLQ_VAR


def test_version_constraints_allow_terraform_1_11_and_any_aws_provider_5(
    raw_module: Doc, module: Doc
) -> None:
    assert "< 1.4.0" in raw_module["terraform"]["required_version"]  # what Chalice 1.34 emits
    assert module["terraform"] == {
        "required_version": ">= 1.3.0",
        "required_providers": {"aws": {"source": "hashicorp/aws", "version": "~> 5.0"}},
    }


def test_the_null_data_source_and_every_data_source_nothing_reads_are_dropped(
    raw_module: Doc, module: Doc
) -> None:
    assert "null_data_source" in raw_module["data"]
    # the region and partition only built the queue's and the bucket's ARNs; the account id stays
    # as the S3 invoke permission's source_account (a bucket ARN names no account)
    assert module["data"] == {"aws_caller_identity": {"chalice": {}}}
    read = set(re.findall(r"\bdata\.[a-z_]+\.[a-z_]+", json.dumps(module)))
    assert read == {"data.aws_caller_identity.chalice"}


def test_every_variable_the_module_references_is_declared_with_a_type(module: Doc) -> None:
    # The resources and the API's Swagger document (a local), which names the user pool.
    referenced = set(re.findall(r"var\.([a-z_]+)", json.dumps([module["resource"], module["locals"]])))
    assert referenced == set(module["variable"])
    assert module["variable"]["vpc_subnet_ids"]["type"] == "list(string)"
    assert module["variable"]["vpc_security_group_id"]["type"] == "string"
    assert all(spec["description"] for spec in module["variable"].values())


def test_only_the_database_handlers_run_in_the_vpc(module: Doc) -> None:
    in_vpc = {key for key, f in module["resource"]["aws_lambda_function"].items() if "vpc_config" in f}
    assert in_vpc == {
        "api_handler",
        "course-embedding-handler",
        "course-storage-handler",
        migrate_handler.HANDLER_NAME,
        book_uploads.HANDLER_NAME,
    }


def test_the_api_gets_an_explicit_stage_and_the_seed_output_course_request_endpoint(module: Doc) -> None:
    resources = module["resource"]
    assert "stage_name" not in resources["aws_api_gateway_deployment"]["rest_api"]
    assert resources["aws_api_gateway_stage"]["rest_api"]["stage_name"] == "dev"
    endpoint = module["output"]["course_request_endpoint"]["value"]
    assert endpoint == "${aws_api_gateway_stage.rest_api.invoke_url}/courses"
    rule_names = module["output"]["rule_names"]["value"]
    assert rule_names == {h: f"coursegen-dev-{h}" for h in sorted(registry.BY_HANDLER)}


def test_each_function_runs_with_the_role_of_its_concern(module: Doc) -> None:
    roles = {key: f["role"] for key, f in module["resource"]["aws_lambda_function"].items()}
    expected = {
        "api_handler": "api",
        dead_letters.HANDLER_NAME: "dead_letters",
        "course-embedding-handler": "database",
        "course-storage-handler": "database",
        "course-book-search-handler": "planners",
        "course-parts-handler": "planners",
        "course-sections-handler": "planners",
        "course-outline-reviewer": "planners",
        migrate_handler.HANDLER_NAME: "migrate",
        watchdog.HANDLER_NAME: "watchdog",
        book_uploads.HANDLER_NAME: "ingestion",
    }
    assert roles == {key: f"${{var.function_role_arns.{concern}}}" for key, concern in expected.items()}
    assert module["variable"]["function_role_arns"]["type"] == "map(string)"
    assert "lambda_role_arn" not in module["variable"]  # the stage's one role is used by nothing


def test_an_event_handler_moved_into_the_vpc_gets_the_database_role(
    raw_module: Doc, options: Options
) -> None:
    functions = raw_module["resource"]["aws_lambda_function"]
    functions["course-parts-handler"]["vpc_config"] = functions["course-storage-handler"]["vpc_config"]
    module = postprocess(raw_module, options)
    role = module["resource"]["aws_lambda_function"]["course-parts-handler"]["role"]
    assert role == "${var.function_role_arns.database}"


def test_a_function_of_no_known_concern_stops_the_rewrite(raw_module: Doc, options: Options) -> None:
    functions = raw_module["resource"]["aws_lambda_function"]
    functions["report-generator"] = dict(
        functions["api_handler"], function_name="coursegen-dev-report-generator"
    )
    with pytest.raises(PostProcessError, match="no execution role for function\\(s\\) report-generator"):
        postprocess(raw_module, options)


def test_the_migration_function_runs_in_the_vpc_and_the_module_outputs_its_trigger(module: Doc) -> None:
    functions = module["resource"]["aws_lambda_function"]
    migration = functions[migrate_handler.HANDLER_NAME]
    assert migration["vpc_config"] == functions["course-storage-handler"]["vpc_config"]
    assert migration["timeout"] == 300
    outputs = module["output"]
    assert (
        outputs["migration_function_name"]["value"] == "${aws_lambda_function.course-migrate.function_name}"
    )
    assert outputs["migrations_sha256"]["value"] == migrate_handler.migrations_digest()
    assert migrate_handler.HANDLER_NAME not in module["resource"]["aws_lambda_function_event_invoke_config"]


def test_the_books_bucket_invokes_the_ingestion_function_sized_by_the_benchmark(module: Doc) -> None:
    resources = module["resource"]
    function = resources["aws_lambda_function"][book_uploads.HANDLER_NAME]
    assert function["handler"] == "app.book_ingestion_handler"
    # .chalice/config.json, from bench/RESULTS.md ("Ingesting a book on Lambda"): one vCPU, 15 min
    assert (function["memory_size"], function["timeout"]) == (1769, 900)
    assert function["vpc_config"] == resources["aws_lambda_function"]["course-storage-handler"]["vpc_config"]
    # the bucket's notification belongs to the books-bucket module: out of the app module ...
    assert "aws_s3_bucket_notification" not in resources
    permissions = resources["aws_lambda_permission"].items()
    (permission,) = [(key, p) for key, p in permissions if p["principal"] == "s3.amazonaws.com"]
    assert permission[1]["source_arn"] == BOOKS_BUCKET_VAR
    assert permission[1]["function_name"] == f"${{aws_lambda_function.{book_uploads.HANDLER_NAME}.arn}}"
    # ... into an output the module reads, created only once S3 may invoke the function
    notification = module["output"]["books_notification"]
    assert notification["value"] == {
        "function_arn": f"${{aws_lambda_function.{book_uploads.HANDLER_NAME}.arn}}",
        "events": ["s3:ObjectCreated:*"],
        "filter_prefix": "books/",
    }
    assert notification["depends_on"] == [f"aws_lambda_permission.{permission[0]}"]
    # the document readers reach this function only, as a layer
    assert function["layers"] == ["${aws_lambda_layer_version.readers.arn}"]
    layer = resources["aws_lambda_layer_version"]["readers"]
    put = resources["aws_s3_object"]["readers_layer"]  # over 50 MB: through S3
    assert (put["bucket"], put["source"]) == ("${var.books_bucket_name}", "${path.module}/readers-layer.zip")
    assert put["key"] == "artifacts/coursegen-dev-readers-layer.zip"  # outside books/
    assert layer["s3_object_version"] == "${aws_s3_object.readers_layer.version_id}"
    assert layer["compatible_runtimes"] == [function["runtime"]] == ["python3.11"]
    others = [f for key, f in resources["aws_lambda_function"].items() if key != book_uploads.HANDLER_NAME]
    assert others and not [f for f in others if "layers" in f]
    retries = resources["aws_lambda_function_event_invoke_config"][book_uploads.HANDLER_NAME]
    assert retries["maximum_retry_attempts"] == 2 and "destination_config" not in retries
    assert module["variable"]["books_bucket_arn"]["type"] == "string"
    assert book_uploads.BUCKET_PLACEHOLDER not in json.dumps(module)


def test_an_ingestion_function_outside_the_vpc_stops_the_rewrite(raw_module: Doc, options: Options) -> None:
    del raw_module["resource"]["aws_lambda_function"][book_uploads.HANDLER_NAME]["vpc_config"]
    with pytest.raises(PostProcessError, match="would not reach Aurora"):
        postprocess(raw_module, options)


def test_a_notification_of_another_bucket_stops_the_rewrite(raw_module: Doc, options: Options) -> None:
    notifications = raw_module["resource"]["aws_s3_bucket_notification"]
    (notification,) = notifications.values()
    notifications["other_notify"] = dict(notification, bucket="someone-elses-bucket")
    with pytest.raises(PostProcessError, match="expected one S3 notification"):
        postprocess(raw_module, options)


def test_an_app_without_the_migration_function_stops_the_rewrite(raw_module: Doc, options: Options) -> None:
    del raw_module["resource"]["aws_lambda_function"][migrate_handler.HANDLER_NAME]
    with pytest.raises(PostProcessError, match="nothing would create the schema"):
        postprocess(raw_module, options)


def test_the_module_outputs_the_api_s_metric_dimensions(module: Doc) -> None:
    assert module["output"]["api_name"]["value"] == "${aws_api_gateway_rest_api.rest_api.name}"
    assert module["output"]["api_stage_name"]["value"] == "${aws_api_gateway_stage.rest_api.stage_name}"
    assert module["resource"]["aws_api_gateway_rest_api"]["rest_api"]["name"] == "coursegen"


def test_every_function_logs_to_a_group_created_first_with_retention(module: Doc) -> None:
    resources = module["resource"]
    for key, function in resources["aws_lambda_function"].items():
        group = resources["aws_cloudwatch_log_group"][key]
        assert group["name"] == f"/aws/lambda/{function['function_name']}"
        assert function["depends_on"] == [f"aws_cloudwatch_log_group.{key}"]


def test_the_input_document_is_left_unchanged(raw_module: Doc, options: Options) -> None:
    before = json.dumps(raw_module, sort_keys=True)
    postprocess(raw_module, options)
    assert json.dumps(raw_module, sort_keys=True) == before


def test_a_handler_without_a_rule_stops_the_rewrite(raw_module: Doc, options: Options) -> None:
    del raw_module["resource"]["aws_cloudwatch_event_rule"]["course-parts-handler-event"]
    del raw_module["resource"]["aws_cloudwatch_event_target"]["course-parts-handler-event"]
    with pytest.raises(PostProcessError, match="handler course-parts-handler has no rule"):
        postprocess(raw_module, options)


def test_a_rule_without_a_handler_stops_the_rewrite(raw_module: Doc, options: Options) -> None:
    del raw_module["resource"]["aws_cloudwatch_event_target"]["course-outline-reviewer-event"]
    with pytest.raises(PostProcessError, match="rule course-outline-reviewer-event has no handler"):
        postprocess(raw_module, options)


def test_a_rule_for_a_handler_the_app_does_not_declare_stops_the_rewrite(
    raw_module: Doc, options: Options
) -> None:
    expected = expected_rules()
    del expected["course-storage-handler"]
    with pytest.raises(PostProcessError, match=r"course-storage-handler, which app\.py does not declare"):
        postprocess(raw_module, options, expected)


def test_a_rule_whose_pattern_differs_from_the_app_stops_the_rewrite(
    raw_module: Doc, options: Options
) -> None:
    rule = raw_module["resource"]["aws_cloudwatch_event_rule"]["course-sections-handler-event"]
    rule["event_pattern"] = json.dumps({"source": ["someone.else"]})
    with pytest.raises(PostProcessError, match="course-sections-handler-event has pattern"):
        postprocess(raw_module, options)


def test_a_missing_dead_letter_consumer_stops_the_rewrite(raw_module: Doc, options: Options) -> None:
    del raw_module["resource"]["aws_lambda_event_source_mapping"]
    with pytest.raises(PostProcessError, match=dead_letters.HANDLER_NAME):
        postprocess(raw_module, options)


def test_the_expected_rules_are_the_handlers_app_py_registers() -> None:
    assert expected_rules(app) == {spec.handler: spec.pattern for spec in registry.HANDLERS}


def test_an_app_whose_handlers_differ_from_the_registry_stops_the_rewrite() -> None:
    from chalice.app import Chalice

    other = Chalice(app_name="other")

    @other.on_cw_event(registry.PLAN_FIRST_PART.pattern, name=registry.PLAN_FIRST_PART.handler)
    def only_one(event: Any) -> None: ...

    with pytest.raises(PostProcessError, match="differ from the registry"):
        expected_rules(other)


def test_the_browser_routes_take_the_environment_s_user_pool_and_the_others_keep_iam(module: Doc) -> None:
    from chalicelib import web
    from deploy.postprocess import USER_POOL_VAR

    swagger_text = module["locals"]["chalice_api_swagger"]
    assert web.USER_POOL_ARN_PLACEHOLDER not in swagger_text
    swagger = json.loads(swagger_text)
    learners = swagger["securityDefinitions"]["learners"]["x-amazon-apigateway-authorizer"]
    assert learners["providerARNs"] == [USER_POOL_VAR]
    assert "learner_user_pool_arn" in module["variable"]
    for path, methods in swagger["paths"].items():
        for method, operation in methods.items():
            security = operation.get("security")
            if path.startswith("/app/") and path != "/app/config":
                assert security == [{"learners": []}], (method, path)
            elif path.startswith("/courses") or path.startswith("/books"):
                assert security == [{"sigv4": []}], (method, path)
            else:  # the page, its assets and its settings are public
                assert security is None, (method, path)


def gateway_answers(module: Doc) -> Doc:
    answers: Doc = json.loads(module["locals"]["chalice_api_swagger"])[GATEWAY_RESPONSES_KEY]
    return answers


def rendered(answer: Doc, gateway_message: str = "Endpoint request timed out") -> Any:
    """The body API Gateway sends: the template with its one variable filled in as it fills it
    ($context.error.messageString is the message quoted as a JSON string)."""
    template = answer["responseTemplates"]["application/json"]
    return json.loads(template.replace("$context.error.messageString", json.dumps(gateway_message)))


def test_an_unknown_route_answers_404_in_the_app_s_error_shape(module: Doc) -> None:
    answer = gateway_answers(module)["MISSING_AUTHENTICATION_TOKEN"]

    assert answer["statusCode"] == "404"
    body = rendered(answer)
    shape = http.not_found("c1").body
    assert isinstance(shape, dict)
    assert body["error"].keys() == shape["error"].keys()
    assert body["error"]["code"] == shape["error"]["code"] == "not_found"
    assert body["error"]["message"].startswith("no route answers this method and path")
    assert body["error"]["field"] is None


def test_api_gateway_s_own_answers_are_all_in_the_app_s_error_shape(module: Doc) -> None:
    answers = gateway_answers(module)
    assert set(answers) == {
        "MISSING_AUTHENTICATION_TOKEN",
        "UNAUTHORIZED",
        "ACCESS_DENIED",
        "THROTTLED",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    }
    statuses = {kind: answer.get("statusCode") for kind, answer in answers.items()}
    assert statuses == {
        "MISSING_AUTHENTICATION_TOKEN": "404",
        "UNAUTHORIZED": "401",
        "ACCESS_DENIED": "403",
        "THROTTLED": "429",
        "DEFAULT_4XX": None,  # API Gateway's own status (413, 403 for a bad signature, ...)
        "DEFAULT_5XX": None,
    }
    for kind, answer in answers.items():
        body = rendered(answer, 'a "quoted" message')
        assert set(body) == {"error"}, kind
        assert set(body["error"]) == {"code", "message", "field"}, kind
        assert re.fullmatch(r"[a-z_]+", body["error"]["code"]), kind
        assert body["error"]["field"] is None
    # The ones without a message of their own pass API Gateway's on, quoted as JSON.
    assert rendered(answers["DEFAULT_5XX"], 'a "quoted" message')["error"] == {
        "code": "internal_error",
        "message": 'a "quoted" message',
        "field": None,
    }
    assert rendered(answers["UNAUTHORIZED"])["error"]["code"] == "unauthenticated"  # as the app's own 401
    assert answers["THROTTLED"]["responseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}


def test_the_gateway_answers_need_no_cors_headers_while_no_route_allows_cross_origin_calls() -> None:
    # Were a route to allow cross-origin calls, API Gateway's own answers would need its
    # Access-Control-Allow-Origin too (GATEWAY_RESPONSES in deploy/postprocess.py).
    assert all(entry.cors is None for methods in app.routes.values() for entry in methods.values())


def test_adding_the_gateway_answers_leaves_the_routes_as_they_were(raw_module: Doc, module: Doc) -> None:
    before = json.loads(raw_module["locals"]["chalice_api_swagger"])
    after = json.loads(module["locals"]["chalice_api_swagger"])
    assert GATEWAY_RESPONSES_KEY not in before
    assert after["paths"] == before["paths"]
    assert {key for key in after if key not in before} == {GATEWAY_RESPONSES_KEY}


def test_the_watchdog_runs_every_five_minutes_on_the_default_bus_under_a_name_of_its_stage(
    module: Doc,
) -> None:
    [(key, schedule)] = [
        (key, rule)
        for key, rule in module["resource"]["aws_cloudwatch_event_rule"].items()
        if "schedule_expression" in rule
    ]
    assert schedule["schedule_expression"] == "rate(5 minutes)"
    assert schedule["name"] == f"coursegen-dev-{watchdog.HANDLER_NAME}"
    assert "event_bus_name" not in schedule  # EventBridge runs schedules on the default bus only
    target = module["resource"]["aws_cloudwatch_event_target"][key]
    assert target["arn"] == f"${{aws_lambda_function.{watchdog.HANDLER_NAME}.arn}}"
    assert "dead_letter_config" not in target  # a missed sweep is made up by the next one
    function = module["resource"]["aws_lambda_function"][watchdog.HANDLER_NAME]
    assert "vpc_config" not in function  # DynamoDB and EventBridge only: no network interfaces
    assert (function["timeout"], function["memory_size"]) == (60, 256)
    assert watchdog.HANDLER_NAME not in module["output"]["rule_names"]["value"]


def test_a_schedule_running_another_function_stops_the_rewrite(raw_module: Doc, options: Options) -> None:
    targets = raw_module["resource"]["aws_cloudwatch_event_target"]
    [key] = [
        k
        for k, rule in raw_module["resource"]["aws_cloudwatch_event_rule"].items()
        if "schedule_expression" in rule
    ]
    targets[key]["arn"] = "${aws_lambda_function.course-parts-handler.arn}"

    with pytest.raises(PostProcessError, match="course-parts-handler, which is not a scheduled function"):
        postprocess(raw_module, options)
