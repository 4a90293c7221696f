# The one execution role of the app's functions. Chalice cannot write it (it reads only app.py,
# not the calls chalicelib makes), so each statement below names the code that needs it.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  account   = "arn:${data.aws_partition.current.partition}:%s:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  logs_arn  = format(local.account, "logs")
  ec2_arn   = format(local.account, "ec2")
  log_group = "${local.logs_arn}:log-group:/aws/lambda/${var.grants.function_name_prefix}*"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    # Only functions of this account may assume it.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.naming.project}-${var.naming.environment}-course-app"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "app" {
  # EventBridgePublisher: every step announces the next one.
  statement {
    sid       = "PublishWorkflowEvents"
    actions   = ["events:PutEvents"]
    resources = [var.grants.event_bus_arn]
  }

  # DynamoDBStateStore: consistent get, conditional put; the user index serves GET /courses.
  statement {
    sid       = "CourseState"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [var.grants.table_arn]
  }

  statement {
    sid       = "CourseStateByUser"
    actions   = ["dynamodb:Query"]
    resources = var.grants.table_index_arns
  }

  # bootstrap.aws_connection_factory: the Aurora password, once per cold start;
  # adapters/openai_client.resolve_api_key: the model server's API key, likewise.
  statement {
    sid       = "Secrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = compact([var.grants.db_secret_arn, var.grants.model_secret_arn])
  }

  # Lambda sends on-failure records with the function's role; the consumer reads the queue.
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [var.grants.dead_letter_queue_arn]
  }

  # Log groups are created by Terraform (with retention), so only streams and events here.
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group}:*"]
  }

  dynamic "statement" {
    for_each = var.grants.tracing ? [1] : []
    content {
      sid       = "Tracing"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"] # X-Ray has no resource-level permissions
    }
  }

  # What AWSLambdaVPCAccessExecutionRole grants, scoped to this account and region.
  dynamic "statement" {
    for_each = var.grants.vpc_access ? [1] : []
    content {
      sid     = "VpcNetworkInterfaces"
      actions = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
      resources = [
        "${local.ec2_arn}:network-interface/*",
        "${local.ec2_arn}:subnet/*",
        "${local.ec2_arn}:security-group/*",
      ]
    }
  }

  dynamic "statement" {
    for_each = var.grants.vpc_access ? [1] : []
    content {
      sid       = "VpcDescribeNetworkInterfaces"
      actions   = ["ec2:DescribeNetworkInterfaces"]
      resources = ["*"] # Describe calls have no resource-level permissions
    }
  }
}

resource "aws_iam_role_policy" "app" {
  name   = "course-app"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.app.json
}
