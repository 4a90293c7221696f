# One execution role per concern of the app's functions. Chalice cannot write them (it reads only
# app.py, not the calls chalicelib makes), so each statement below names the code that needs it,
# and each role takes only the statements of its functions.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  prefix    = "${var.naming.project}-${var.naming.environment}"
  account   = "arn:${data.aws_partition.current.partition}:%s:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  logs_arn  = format(local.account, "logs")
  log_group = "${local.logs_arn}:log-group:/aws/lambda/${var.grants.function_name_prefix}*"

  # The app reads the database password at its first connection and the model key at its first
  # model call, so each secret is readable only by the roles whose code uses it; true
  # (options.secrets_read_at_cold_start) lets every workflow role read both.
  cold_start = var.options.secrets_read_at_cold_start
  everyone   = concat(var.options.tracing ? ["Tracing"] : [], ["Logs"])
  in_vpc     = var.options.vpc_access ? ["VpcNetworkInterfaces"] : []

  # Role -> the statements (Sids below) it holds besides Logs and Tracing.
  own = {
    # The API handler: POST /courses (state, first event, embeds the query), GET /courses[/id]
    # (state by user, stored outlines in Aurora), POST /courses/{id}/retry and
    # DELETE /courses/{id} (the state, and the outline in Aurora). In the VPC.
    api = concat(["PublishWorkflowEvents", "CourseState", "CourseStateByUser", "DeleteCourseState", "DatabasePassword", "ModelApiKey"], local.in_vpc)
    # Handlers that call the model and never the database; outside the VPC.
    planners = concat(["PublishWorkflowEvents", "CourseState", "SendDeadLetters", "ModelApiKey"], local.cold_start ? ["DatabasePassword"] : [])
    # Handlers that search the library or store the course in Aurora. In the VPC.
    database = concat(["PublishWorkflowEvents", "CourseState", "SendDeadLetters", "DatabasePassword"], local.cold_start ? ["ModelApiKey"] : [], local.in_vpc)
    # The dead-letter consumer: reads the queue, fails the course, publishes CourseFailed.
    dead_letters = concat(["PublishWorkflowEvents", "CourseState", "ConsumeDeadLetters"], local.cold_start ? ["DatabasePassword", "ModelApiKey"] : [])
    # The migration function: the schema in Aurora, nothing else. In the VPC.
    migrate = concat(["DatabasePassword"], local.in_vpc)
    # The watchdog (bootstrap.watchdog builds only the state store and the bus, so no secret):
    # finds the idle courses in progress, reads and conditionally rewrites their state, and
    # publishes their next event again or CourseFailed. Outside the VPC.
    watchdog = ["PublishWorkflowEvents", "CourseState", "IdleCourses"]
    # The ingestion function (book_uploads): reads an uploaded document, embeds its chapters with
    # the model and loads the book into Aurora. In the VPC.
    ingestion = concat(["ReadUploadedBooks", "DatabasePassword", "ModelApiKey"], local.in_vpc)
  }
  roles = { for role, sids in local.own : role => concat(sids, local.everyone) }

  statements = {
    # adapters/eventbridge.EventBridgePublisher: every step announces the next one.
    PublishWorkflowEvents = { actions = ["events:PutEvents"], resources = [var.grants.event_bus_arn] }
    # adapters/dynamodb_state: consistent get, conditional put; the fan-in of parallel sections
    # reads the parts' items in one consistent BatchGetItem.
    CourseState = { actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchGetItem"], resources = [var.grants.table_arn] }
    # The user index serves GET /courses.
    CourseStateByUser = { actions = ["dynamodb:Query"], resources = var.grants.table_index_arns }
    # adapters/dynamodb_state.idle: the sparse index of the courses in progress (the watchdog).
    IdleCourses = { actions = ["dynamodb:Query"], resources = [var.grants.idle_index_arn] }
    # adapters/dynamodb_state.delete: DELETE /courses/{id}, conditional on the version read, then
    # its parts' items in one BatchWriteItem.
    DeleteCourseState = { actions = ["dynamodb:DeleteItem", "dynamodb:BatchWriteItem"], resources = [var.grants.table_arn] }
    # adapters/db_secret.SecretPassword (bootstrap.aws_connection_factory): the Aurora password
    # RDS manages, read at the first connection and again when the database refuses it.
    DatabasePassword = { actions = ["secretsmanager:GetSecretValue"], resources = [var.grants.db_secret_arn] }
    # adapters/openai_client.with_api_key: the model server's API key, at the first model call.
    ModelApiKey = { actions = ["secretsmanager:GetSecretValue"], resources = compact([var.grants.model_secret_arn]) }
    # adapters/s3_documents.S3Documents.download: the uploaded object, by the version the event
    # names (GetObjectVersion) when the bucket keeps versions; only under books/. The bucket is
    # encrypted with S3-managed keys, so no KMS permission is needed.
    ReadUploadedBooks = { actions = ["s3:GetObject", "s3:GetObjectVersion"], resources = var.grants.books_bucket_arn == null ? [] : ["${var.grants.books_bucket_arn}/books/*"] }
    # Lambda sends an event handler's on-failure record to the queue with the function's role.
    SendDeadLetters = { actions = ["sqs:SendMessage"], resources = [var.grants.dead_letter_queue_arn] }
    # The SQS event source mapping polls with the consumer's role (AWSLambdaSQSQueueExecutionRole's actions).
    ConsumeDeadLetters = { actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], resources = [var.grants.dead_letter_queue_arn] }
    # Log groups are created by Terraform (with retention), so only streams and events here.
    Logs = { actions = ["logs:CreateLogStream", "logs:PutLogEvents"], resources = ["${local.log_group}:*"] }
    # X-Ray has no resource-level permissions.
    Tracing = { actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources = ["*"] }
    # The EC2 actions of AWSLambdaVPCAccessExecutionRole, as AWS documents them: Lambda checks them
    # when it creates an in-VPC function and uses them to manage its network interfaces; the
    # Describe calls have no resource-level permissions and Lambda expects "*" for the others.
    VpcNetworkInterfaces = {
      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    # Only functions of this account may assume them.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each           = local.roles
  name               = "${local.prefix}-course-${replace(each.key, "_", "-")}"
  description        = "Execution role of the ${replace(each.key, "_", " ")} functions of ${local.prefix}."
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "role" {
  #checkov:skip=CKV_AWS_111:The only unconstrained write actions are the VPC network-interface actions of AWSLambdaVPCAccessExecutionRole, which Lambda needs on "*" (see the VpcNetworkInterfaces statement).
  #checkov:skip=CKV_AWS_356:"*" resources only where AWS offers no resource-level permission (X-Ray, EC2 Describe) or documents "*" for Lambda's network interfaces.
  for_each = local.roles

  dynamic "statement" {
    for_each = [for sid in sort(each.value) : sid if length(local.statements[sid].resources) > 0]
    content {
      sid       = statement.value
      actions   = local.statements[statement.value].actions
      resources = local.statements[statement.value].resources
    }
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = local.roles
  name     = "course-${replace(each.key, "_", "-")}"
  role     = aws_iam_role.this[each.key].id
  policy   = data.aws_iam_policy_document.role[each.key].json
}
