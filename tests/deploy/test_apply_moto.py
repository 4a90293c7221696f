"""The dev environment applied to moto (moto_apply.py), read back through boto3, then destroyed.

What moto accepts but does not emulate (Aurora itself, VPC networking, Lambda execution, alarm
evaluation) is checked only as configuration read back.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import book_uploads, dead_letters, migrate_handler
from chalicelib.adapters.dynamodb_state import IDLE_INDEX, USER_INDEX
from chalicelib.core import watchdog
from chalicelib.core.registry import BY_HANDLER
from deploy.smoke import api_url_from_terraform, region_of

from .moto_apply import REGION, Deployment, MotoApply
from .support import Terraform, names

pytestmark = pytest.mark.slow  # Terraform applies the whole stack to moto: minutes

DB_HANDLERS = {
    "coursegen-dev",
    "coursegen-dev-course-embedding-handler",
    "coursegen-dev-course-storage-handler",
    f"coursegen-dev-{migrate_handler.HANDLER_NAME}",
    f"coursegen-dev-{book_uploads.HANDLER_NAME}",
}
ROLE_OF = {
    "coursegen-dev": "api",
    "coursegen-dev-course-embedding-handler": "database",
    "coursegen-dev-course-storage-handler": "database",
    "coursegen-dev-course-book-search-handler": "planners",
    "coursegen-dev-course-parts-handler": "planners",
    "coursegen-dev-course-sections-handler": "planners",
    "coursegen-dev-course-outline-reviewer": "planners",
    f"coursegen-dev-{dead_letters.HANDLER_NAME}": "dead-letters",
    f"coursegen-dev-{migrate_handler.HANDLER_NAME}": "migrate",
    f"coursegen-dev-{watchdog.HANDLER_NAME}": "watchdog",
    f"coursegen-dev-{book_uploads.HANDLER_NAME}": "ingestion",
}
# What every role holds besides its own statements.
EVERY_ROLE = {"Logs", "Tracing"}
VPC_ACTIONS = {  # AWSLambdaVPCAccessExecutionRole's EC2 actions
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}


@pytest.fixture(scope="module")
def deployed(moto_apply: MotoApply) -> Deployment:
    return moto_apply.deployment()


def function_arn(deployed: Deployment, name: str) -> str:
    return str(deployed.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"])


def queue_arn(deployed: Deployment) -> str:
    url = deployed.outputs["dead_letter_queue_url"]
    attributes = deployed.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def test_the_six_rules_are_on_the_custom_bus_with_exactly_the_patterns_app_py_declares(
    deployed: Deployment,
) -> None:
    events = deployed.client("events")
    bus = deployed.outputs["event_bus_name"]
    assert bus == "docprof-dev-course-events"
    rules = events.list_rules(EventBusName=bus)["Rules"]
    assert names(rules) == {f"coursegen-dev-{handler}" for handler in BY_HANDLER}
    for rule in rules:
        handler = rule["Name"].removeprefix("coursegen-dev-")
        assert json.loads(rule["EventPattern"]) == BY_HANDLER[handler].pattern
    # On the default bus only the watchdog's schedule (EventBridge runs schedules there).
    on_default = [r["Name"] for r in events.list_rules()["Rules"] if r["Name"].startswith("coursegen")]
    assert on_default == [f"coursegen-dev-{watchdog.HANDLER_NAME}"]


def test_each_rule_targets_its_function_with_the_dead_letter_queue_and_retry_policy(
    deployed: Deployment,
) -> None:
    events, dlq = deployed.client("events"), queue_arn(deployed)
    for handler in BY_HANDLER:
        [target] = events.list_targets_by_rule(
            Rule=f"coursegen-dev-{handler}", EventBusName=deployed.outputs["event_bus_name"]
        )["Targets"]
        assert target["Arn"] == function_arn(deployed, f"coursegen-dev-{handler}")
        assert target["DeadLetterConfig"] == {"Arn": dlq}
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 24, "MaximumEventAgeInSeconds": 3600}


def test_each_handler_retries_then_sends_failures_to_the_dead_letter_queue(deployed: Deployment) -> None:
    awslambda, dlq = deployed.client("lambda"), queue_arn(deployed)
    for handler in BY_HANDLER:
        config = awslambda.get_function_event_invoke_config(FunctionName=f"coursegen-dev-{handler}")
        assert config["MaximumRetryAttempts"] == 2
        assert config["MaximumEventAgeInSeconds"] == 3600
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == dlq


def test_the_dead_letter_consumer_reads_the_dead_letter_queue(deployed: Deployment) -> None:
    function = function_arn(deployed, f"coursegen-dev-{dead_letters.HANDLER_NAME}")
    mappings = deployed.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert [m["EventSourceArn"] for m in mappings if m["FunctionArn"] == function] == [queue_arn(deployed)]


def test_functions_get_the_seed_environment_and_only_database_handlers_sit_in_the_vpc(
    deployed: Deployment,
) -> None:
    functions = deployed.client("lambda").list_functions()["Functions"]
    # API, six phase handlers, the dead-letter consumer, the migration, the watchdog, the book ingestion
    assert len(functions) == 11
    for function in functions:
        variables = function["Environment"]["Variables"]
        assert variables["DYNAMODB_COURSE_STATE_TABLE_NAME"] == "docprof-dev-course-state"
        assert variables["EVENT_BUS_NAME"] == deployed.outputs["event_bus_name"]
        assert variables["AWS_ACCOUNT_ID"] == "123456789012"  # moto's account
        assert variables["DB_PASSWORD_SECRET_ARN"] == deployed.outputs["db_password_secret_arn"]
        assert variables["DB_CLUSTER_ENDPOINT"] == deployed.outputs["db_cluster_endpoint"]
        assert variables["COURSEGEN_PLANNER"] == variables["COURSEGEN_EMBEDDER"] == "openai"
        key_secret = deployed.outputs["model_api_key_secret_arn"]
        assert variables["COURSEGEN_OPENAI_API_KEY_SECRET_ARN"] == key_secret
        assert variables["COURSEGEN_CHAT_MODEL"] == "gpt-4o-mini"
        # The API handler embeds the query inside API Gateway's 29 s; the planners get 270 of 300 s.
        api = function["FunctionName"].endswith("-dev")
        assert variables["COURSEGEN_LLM_DEADLINE"] == ("25" if api else "270"), function["FunctionName"]
        role = ROLE_OF[function["FunctionName"]]
        assert function["Role"].endswith(f":role/docprof-dev-course-{role}"), function["FunctionName"]
        in_vpc = bool(function.get("VpcConfig", {}).get("SubnetIds"))
        assert in_vpc == (function["FunctionName"] in DB_HANDLERS), function["FunctionName"]


def test_the_apply_invoked_the_migration_function_with_the_digest_of_the_packaged_migrations(
    deployed: Deployment, terraform: Terraform
) -> None:
    state = json.loads(terraform.run(deployed.directory, "show", "-json", "-no-color"))
    [invocation] = [
        r
        for r in state["values"]["root_module"]["resources"]
        if r["address"] == "aws_lambda_invocation.migrate"
    ]
    digest = migrate_handler.migrations_digest()
    values = invocation["values"]
    assert values["function_name"] == f"coursegen-dev-{migrate_handler.HANDLER_NAME}"
    assert values["triggers"] == {"migrations_sha256": digest}
    assert json.loads(values["input"]) == {"migrations_sha256": digest}
    # moto answers an Invoke with the request's payload: the result proves the call was made.
    assert json.loads(values["result"]) == {"migrations_sha256": digest}
    assert json.loads(deployed.outputs["schema_migrations"]) == {"migrations_sha256": digest}
    function = deployed.client("lambda").get_function(FunctionName=values["function_name"])["Configuration"]
    assert function["Timeout"] == 300 and function["Handler"] == "app.course_migrate"


def test_the_state_table_has_the_key_index_ttl_and_point_in_time_recovery(deployed: Deployment) -> None:
    dynamodb, table = deployed.client("dynamodb"), deployed.outputs["course_state_table_name"]
    description = dynamodb.describe_table(TableName=table)["Table"]
    assert description["KeySchema"] == [{"AttributeName": "course_id", "KeyType": "HASH"}]
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {index["IndexName"]: index for index in description["GlobalSecondaryIndexes"]}
    assert set(indexes) == {USER_INDEX, IDLE_INDEX}
    assert indexes[IDLE_INDEX]["KeySchema"] == [
        {"AttributeName": "in_progress", "KeyType": "HASH"},
        {"AttributeName": "updated_at", "KeyType": "RANGE"},
    ]
    assert indexes[IDLE_INDEX]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert description["SSEDescription"]["Status"] == "ENABLED"
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}
    backups = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_the_queue_policy_admits_only_rules_of_the_bus_and_the_event_handlers_roles(
    deployed: Deployment,
) -> None:
    attributes = deployed.client("sqs").get_queue_attributes(
        QueueUrl=deployed.outputs["dead_letter_queue_url"], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["SqsManagedSseEnabled"] == "true"
    statements = {s["Sid"]: s for s in json.loads(attributes["Policy"])["Statement"]}
    rules = statements["EventBridgeRulesOnTheBus"]
    assert rules["Principal"] == {"Service": "events.amazonaws.com"}
    assert rules["Resource"] == queue_arn(deployed)
    bus_rules = f"arn:aws:events:{REGION}:123456789012:rule/{deployed.outputs['event_bus_name']}/*"
    assert rules["Condition"] == {"ArnLike": {"aws:SourceArn": bus_rules}}
    iam = deployed.client("iam")
    roles = [
        iam.get_role(RoleName=f"docprof-dev-course-{r}")["Role"]["Arn"] for r in ("planners", "database")
    ]
    principals = statements["LambdaOnFailureDestinations"]["Principal"]["AWS"]
    assert sorted(principals if isinstance(principals, list) else [principals]) == sorted(roles)
    assert statements["DenyWithoutTLS"]["Effect"] == "Deny"


def alarms_by_name(deployed: Deployment) -> dict[str, dict[str, Any]]:
    pages = deployed.client("cloudwatch").get_paginator("describe_alarms").paginate()
    return {alarm["AlarmName"]: alarm for page in pages for alarm in page["MetricAlarms"]}


def test_the_alarms_watch_dead_letters_and_every_rule_s_failed_invocations(deployed: Deployment) -> None:
    alarms = alarms_by_name(deployed)
    assert alarms["docprof-dev-course-dead-letters-received"]["MetricName"] == "NumberOfMessagesSent"
    assert (
        alarms["docprof-dev-course-dead-letters-stuck"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    )
    old = alarms["docprof-dev-course-dead-letters-old"]
    assert old["MetricName"] == "ApproximateAgeOfOldestMessage" and old["Threshold"] == 1800
    for handler in BY_HANDLER:
        alarm = alarms[f"coursegen-dev-{handler}-failed-invocations"]
        assert alarm["Namespace"] == "AWS/Events" and alarm["MetricName"] == "FailedInvocations"
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dimensions == {
            "EventBusName": deployed.outputs["event_bus_name"],
            "RuleName": f"coursegen-dev-{handler}",
        }


def test_every_function_has_an_errors_and_a_throttles_alarm(deployed: Deployment) -> None:
    alarms = alarms_by_name(deployed)
    functions = [f["FunctionName"] for f in deployed.client("lambda").list_functions()["Functions"]]
    for function in functions:
        for metric in ("Errors", "Throttles"):
            alarm = alarms[f"{function}-{metric.lower()}"]
            assert alarm["Namespace"] == "AWS/Lambda" and alarm["MetricName"] == metric
            assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": function}]
            assert alarm["Threshold"] == 1


def test_the_api_and_aurora_have_their_alarms(deployed: Deployment) -> None:
    alarms = alarms_by_name(deployed)
    api = {"ApiName": "coursegen", "Stage": "dev"}
    five_xx, latency = alarms["docprof-dev-api-5xx"], alarms["docprof-dev-api-latency-p90"]
    assert five_xx["MetricName"] == "5XXError" and latency["ExtendedStatistic"] == "p90"
    for alarm in (five_xx, latency):
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == api
    cluster = [{"Name": "DBClusterIdentifier", "Value": "docprof-dev-courses"}]
    assert alarms["docprof-dev-db-capacity"]["MetricName"] == "ACUUtilization"
    assert alarms["docprof-dev-db-connections"]["MetricName"] == "DatabaseConnections"
    assert alarms["docprof-dev-db-capacity"]["Dimensions"] == cluster


def test_the_watchdog_runs_every_five_minutes_and_its_redrives_raise_an_alarm(deployed: Deployment) -> None:
    function = f"coursegen-dev-{watchdog.HANDLER_NAME}"
    events = deployed.client("events")
    rule = events.describe_rule(Name=function)  # on the default bus: schedules run there
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    [target] = events.list_targets_by_rule(Rule=function)["Targets"]
    assert target["Arn"] == function_arn(deployed, function)
    alarm = alarms_by_name(deployed)["docprof-dev-stalled-courses"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("Coursegen", "StalledCoursesRedriven")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": function}]
    assert alarm["Threshold"] == 1 and alarm["Statistic"] == "Sum"
    idle_index = role_statements(deployed, "watchdog")["IdleCourses"]
    assert idle_index["Action"] == "dynamodb:Query"
    assert idle_index["Resource"].endswith(f"/index/{IDLE_INDEX}")


def test_every_alarm_notifies_the_encrypted_alarm_topic_which_mails_the_given_address(
    deployed: Deployment,
) -> None:
    topic = deployed.outputs["alarm_topic_arn"]
    alarms = alarms_by_name(deployed)
    functions = deployed.client("lambda").list_functions()["Functions"]
    # Per function errors and throttles, API 5XX and latency, Aurora capacity and connections,
    # dead letters received, stuck and old, failed deliveries of each rule, and stalled courses.
    assert len(alarms) == 2 * len(functions) + 2 + 2 + 3 + len(BY_HANDLER) + 1
    assert not [name for name, alarm in alarms.items() if topic not in alarm["AlarmActions"]]
    sns = deployed.client("sns")
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    key = deployed.client("kms").describe_key(KeyId=attributes["KmsMasterKeyId"])["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER" and key["KeyState"] == "Enabled"
    policy = json.loads(
        deployed.client("kms").get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
    )
    cloudwatch = [s for s in policy["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert [sorted(s["Action"]) for s in cloudwatch] == [["kms:Decrypt", "kms:GenerateDataKey*"]]
    [publish] = json.loads(attributes["Policy"])["Statement"]
    assert (
        publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and publish["Action"] == "sns:Publish"
    )
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "oncall@example.com")


def test_the_dashboard_shows_every_function_rule_the_queue_and_the_cluster(deployed: Deployment) -> None:
    name = deployed.outputs["dashboard_name"]
    body = json.loads(deployed.client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"])
    metrics = [metric for widget in body["widgets"] for metric in widget["properties"]["metrics"]]
    shown = {value for metric in metrics for value in metric if isinstance(value, str)}
    functions = {f["FunctionName"] for f in deployed.client("lambda").list_functions()["Functions"]}
    rules = {f"coursegen-dev-{handler}" for handler in BY_HANDLER}
    assert (
        functions | rules | {"docprof-dev-course-dead-letters", "docprof-dev-courses", "coursegen"} <= shown
    )


def role_statements(deployed: Deployment, role: str) -> dict[str, dict[str, Any]]:
    document = deployed.client("iam").get_role_policy(
        RoleName=f"docprof-dev-course-{role}", PolicyName=f"course-{role}"
    )["PolicyDocument"]
    parsed = json.loads(document) if isinstance(document, str) else document
    return {statement["Sid"]: statement for statement in parsed["Statement"]}


def as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_each_role_holds_only_the_statements_of_its_functions(deployed: Deployment) -> None:
    # Each secret only where the code reads it: the app reads neither at a cold start.
    expected = {
        "api": {
            "PublishWorkflowEvents",
            "CourseState",
            "CourseStateByUser",
            "DeleteCourseState",
            "VpcNetworkInterfaces",
            "DatabasePassword",
            "ModelApiKey",
        },
        "planners": {"PublishWorkflowEvents", "CourseState", "SendDeadLetters", "ModelApiKey"},
        "database": {
            "PublishWorkflowEvents",
            "CourseState",
            "SendDeadLetters",
            "VpcNetworkInterfaces",
            "DatabasePassword",
        },
        "dead-letters": {"PublishWorkflowEvents", "CourseState", "ConsumeDeadLetters"},
        "migrate": {"DatabasePassword", "VpcNetworkInterfaces"},
        "watchdog": {"PublishWorkflowEvents", "CourseState", "IdleCourses"},  # no secret, no VPC
        "ingestion": {"ReadUploadedBooks", "VpcNetworkInterfaces", "DatabasePassword", "ModelApiKey"},
    }
    for role, sids in expected.items():
        assert set(role_statements(deployed, role)) == sids | EVERY_ROLE, role


def test_no_role_has_a_star_action_and_star_resources_only_where_aws_offers_nothing_narrower(
    deployed: Deployment,
) -> None:
    for role in ("api", "planners", "database", "dead-letters", "migrate", "watchdog", "ingestion"):
        statements = role_statements(deployed, role)
        for sid, statement in statements.items():
            assert not [a for a in as_list(statement["Action"]) if "*" in a], (role, sid)
        star = {sid for sid, s in statements.items() if s["Resource"] == "*"}
        assert star <= {"Tracing", "VpcNetworkInterfaces"}, role
        if "VpcNetworkInterfaces" in statements:
            assert set(as_list(statements["VpcNetworkInterfaces"]["Action"])) == VPC_ACTIONS
    api = role_statements(deployed, "api")
    assert api["PublishWorkflowEvents"]["Resource"].endswith(
        f":event-bus/{deployed.outputs['event_bus_name']}"
    )
    assert api["DatabasePassword"]["Resource"] == deployed.outputs["db_password_secret_arn"]
    assert api["ModelApiKey"]["Resource"] == deployed.outputs["model_api_key_secret_arn"]
    consume = role_statements(deployed, "dead-letters")["ConsumeDeadLetters"]
    assert consume["Resource"] == queue_arn(deployed)
    assert sorted(as_list(consume["Action"])) == [
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ]


def test_the_books_bucket_is_private_encrypted_versioned_tls_only_and_invokes_the_ingestion_function(
    deployed: Deployment,
) -> None:
    s3 = deployed.client("s3")
    bucket = deployed.outputs["books_bucket_name"]
    assert bucket == f"docprof-dev-books-123456789012-{REGION}"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    # (its objects too outside moto, which cannot evaluate the condition: moto_apply.py)
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["uploads"]["Expiration"]["Days"] == 90
    assert rules["uploads"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert rules["incomplete-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7
    (notification,) = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    function = function_arn(deployed, f"coursegen-dev-{book_uploads.HANDLER_NAME}")
    assert notification["LambdaFunctionArn"] == function
    assert notification["Events"] == ["s3:ObjectCreated:*"]
    (prefix,) = notification["Filter"]["Key"]["FilterRules"]
    assert prefix["Value"] == "books/"
    # the ingestion function's layer of readers went through the bucket, outside books/
    (layer,) = s3.list_objects_v2(Bucket=bucket, Prefix="artifacts/")["Contents"]
    assert layer["Key"] == "artifacts/coursegen-dev-readers-layer.zip" and layer["Size"] > 50 * 2**20
    config = deployed.client("lambda").get_function(FunctionName=f"coursegen-dev-{book_uploads.HANDLER_NAME}")
    (attached,) = config["Configuration"]["Layers"]
    assert ":layer:coursegen-dev-document-readers:" in attached["Arn"]
    # the role reads uploads only, under books/
    read = role_statements(deployed, "ingestion")["ReadUploadedBooks"]
    assert read["Resource"] == f"arn:aws:s3:::{bucket}/books/*"
    assert sorted(as_list(read["Action"])) == ["s3:GetObject", "s3:GetObjectVersion"]


def test_aurora_serverless_v2_keeps_its_password_in_secrets_manager(deployed: Deployment) -> None:
    [cluster] = deployed.client("rds").describe_db_clusters(DBClusterIdentifier="docprof-dev-courses")[
        "DBClusters"
    ]
    assert cluster["Engine"] == "aurora-postgresql"
    assert cluster["StorageEncrypted"] is True
    assert cluster["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 2.0}
    assert cluster["MasterUserSecret"]["SecretArn"] == deployed.outputs["db_password_secret_arn"]
    assert deployed.outputs["db_name"] == "coursegen"


def test_the_seed_output_course_request_endpoint_is_the_post_courses_url(deployed: Deployment) -> None:
    endpoint = deployed.outputs["course_request_endpoint"]
    assert endpoint.startswith("https://") and endpoint.endswith(
        ".execute-api.us-east-1.amazonaws.com/dev/courses"
    )
    [api] = deployed.client("apigateway").get_rest_apis()["items"]
    paths = {r["path"] for r in deployed.client("apigateway").get_resources(restApiId=api["id"])["items"]}
    assert {"/courses", "/courses/{course_id}"} <= paths


def test_the_smoke_test_finds_the_deployed_api_and_its_region(
    deployed: Deployment, terraform: Terraform
) -> None:
    # As far as moto goes: it serves no Lambda-proxied route, so the signed POST and the polling
    # are exercised against a stand-in that checks SigV4 (test_smoke.py).
    api_url = api_url_from_terraform(deployed.directory, terraform.binary)
    assert api_url == deployed.outputs["api_url"]
    assert region_of(api_url, None) == REGION


def test_terraform_destroy_removes_every_resource(deployed: Deployment, terraform: Terraform) -> None:
    terraform.run(deployed.directory, "destroy", "-auto-approve", "-no-color", "-parallelism=20")
    assert deployed.client("events").list_event_buses()["EventBuses"] == [
        bus for bus in deployed.client("events").list_event_buses()["EventBuses"] if bus["Name"] == "default"
    ]
    assert deployed.client("lambda").list_functions()["Functions"] == []
    assert deployed.client("dynamodb").list_tables()["TableNames"] == []
    assert deployed.client("sqs").list_queues().get("QueueUrls", []) == []
    assert deployed.client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert deployed.client("cloudwatch").list_dashboards()["DashboardEntries"] == []
    assert deployed.client("sns").list_topics()["Topics"] == []
    assert deployed.client("rds").describe_db_clusters()["DBClusters"] == []
    assert deployed.client("apigateway").get_rest_apis()["items"] == []
    roles = deployed.client("iam").list_roles()["Roles"]
    assert not [role for role in roles if role["RoleName"].startswith("docprof-")]
    buckets = deployed.client("s3").list_buckets()["Buckets"]
    assert not [bucket for bucket in buckets if bucket["Name"].startswith("docprof-")]
