# Where alarms go (an encrypted SNS topic, optionally mailed), the alarms on the functions, the
# API and Aurora, and one dashboard of the workflow. The delivery and dead-letter alarms live in
# the eventbridge module and notify the same topic.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  prefix  = "${var.naming.project}-${var.naming.environment}"
  account = data.aws_caller_identity.current.account_id
  region  = data.aws_region.current.name
  alarms  = "arn:${data.aws_partition.current.partition}:cloudwatch:${local.region}:${local.account}:alarm:*"
}

# CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key: the topic needs a
# customer-managed key whose policy lets CloudWatch use it.
data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy's resource is always the key itself; the account-root statement is AWS's default key policy, which hands the key's administration to the account's IAM policies.
  #checkov:skip=CKV_AWS_111:Same statement: without it the key could become unmanageable; who may write is decided by IAM policies of the account, and CloudWatch gets only Decrypt and GenerateDataKey.
  #checkov:skip=CKV_AWS_356:In a key policy "*" means this key only (key policies attach to one key).
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"] # AWS's default key policy: the account's IAM policies decide
    resources = ["*"]     # in a key policy, "*" is this key

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account}:root"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_kms_key" "alarms" {
  description             = "${local.prefix}: the alarm topic's messages"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "alarms" {
  name          = "alias/${local.prefix}-alarms"
  target_key_id = aws_kms_key.alarms.key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.prefix}-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "CloudWatchAlarmsOfThisAccount"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.alarms]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == null ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# --- functions: any error or throttle is worth a look (the workflow retries, but a course may fail)

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = var.watched.functions

  alarm_name          = "${each.value}-errors"
  alarm_description   = "Lambda ${each.value} raised errors (a workflow step retries, then its course fails)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each = var.watched.functions

  alarm_name          = "${each.value}-throttles"
  alarm_description   = "Lambda ${each.value} was throttled: the account's concurrency is exhausted."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# --- the API -----------------------------------------------------------------------------------

locals {
  api = { ApiName = var.watched.api_name, Stage = var.watched.api_stage }
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${local.prefix}-api-5xx"
  alarm_description   = "The API answered 5XX (bad input is a 4XX: a 5XX is our fault or a dependency's)."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = local.api
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_latency" {
  alarm_name          = "${local.prefix}-api-latency-p90"
  alarm_description   = "The API's p90 latency stayed above ${var.thresholds.api_latency_p90_ms} ms for 15 minutes."
  namespace           = "AWS/ApiGateway"
  metric_name         = "Latency"
  dimensions          = local.api
  extended_statistic  = "p90"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.thresholds.api_latency_p90_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# --- Aurora ------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "db_capacity" {
  alarm_name          = "${local.prefix}-db-capacity"
  alarm_description   = "Aurora ran above ${var.thresholds.db_acu_utilization_percent}% of its max_capacity for 15 minutes: raise database.max_capacity."
  namespace           = "AWS/RDS"
  metric_name         = "ACUUtilization"
  dimensions          = { DBClusterIdentifier = var.watched.db_cluster_id }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.thresholds.db_acu_utilization_percent
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "db_connections" {
  alarm_name          = "${local.prefix}-db-connections"
  alarm_description   = "Aurora holds ${var.thresholds.db_connections} or more connections (one per warm in-VPC function)."
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBClusterIdentifier = var.watched.db_cluster_id }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.thresholds.db_connections
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# --- the watchdog: a redrive means a course's event was lost (or its step hung) ------------------

# The watchdog function logs one summary line a sweep in CloudWatch's embedded metric format
# (chalicelib/workflow.py, Watchdog.sweep): the counts arrive as metrics of the function.
locals {
  watchdog = { FunctionName = var.watched.watchdog_function }
}

resource "aws_cloudwatch_metric_alarm" "stalled_courses" {
  alarm_name          = "${local.prefix}-stalled-courses"
  alarm_description   = "The watchdog redrove ${var.thresholds.stalled_redrives} or more stalled courses in 5 minutes: events are being lost or a step hangs; courses still stalled after their last redrive end failed."
  namespace           = "Coursegen"
  metric_name         = "StalledCoursesRedriven"
  dimensions          = local.watchdog
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.thresholds.stalled_redrives
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# --- one dashboard: requests in, each step, deliveries, dead letters, the database --------------

locals {
  functions = sort(values(var.watched.functions))

  widgets = [
    {
      title   = "API: requests and errors"
      metrics = [for name in ["Count", "4XXError", "5XXError"] : ["AWS/ApiGateway", name, "ApiName", var.watched.api_name, "Stage", var.watched.api_stage, { stat = "Sum" }]]
    },
    {
      title   = "API: latency (ms)"
      metrics = [for stat in ["p50", "p90", "p99"] : ["AWS/ApiGateway", "Latency", "ApiName", var.watched.api_name, "Stage", var.watched.api_stage, { stat = stat }]]
    },
    {
      title   = "Functions: invocations"
      metrics = [for name in local.functions : ["AWS/Lambda", "Invocations", "FunctionName", name, { stat = "Sum" }]]
    },
    {
      title = "Functions: errors and throttles"
      metrics = concat(
        [for name in local.functions : ["AWS/Lambda", "Errors", "FunctionName", name, { stat = "Sum" }]],
        [for name in local.functions : ["AWS/Lambda", "Throttles", "FunctionName", name, { stat = "Sum" }]],
      )
    },
    {
      title   = "Functions: duration p90 (ms)"
      metrics = [for name in local.functions : ["AWS/Lambda", "Duration", "FunctionName", name, { stat = "p90" }]]
    },
    {
      title = "Workflow events: deliveries and failed deliveries"
      metrics = concat(
        [for rule in var.watched.rule_names : ["AWS/Events", "Invocations", "EventBusName", var.watched.event_bus_name, "RuleName", rule, { stat = "Sum" }]],
        [for rule in var.watched.rule_names : ["AWS/Events", "FailedInvocations", "EventBusName", var.watched.event_bus_name, "RuleName", rule, { stat = "Sum" }]],
      )
    },
    {
      title = "Dead letters (courses failed for good)"
      metrics = [
        ["AWS/SQS", "NumberOfMessagesSent", "QueueName", var.watched.dead_letter_queue_name, { stat = "Sum" }],
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.watched.dead_letter_queue_name, { stat = "Maximum" }],
        ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", var.watched.dead_letter_queue_name, { stat = "Maximum" }],
      ]
    },
    {
      title = "Watchdog: stalled courses redriven and failed"
      metrics = [
        for name in ["StalledCoursesRedriven", "StalledCoursesFailed"] : ["Coursegen", name, "FunctionName", var.watched.watchdog_function, { stat = "Sum" }]
      ]
    },
    {
      title = "Aurora: capacity and connections"
      metrics = [
        ["AWS/RDS", "ServerlessDatabaseCapacity", "DBClusterIdentifier", var.watched.db_cluster_id, { stat = "Average" }],
        ["AWS/RDS", "ACUUtilization", "DBClusterIdentifier", var.watched.db_cluster_id, { stat = "Average" }],
        ["AWS/RDS", "DatabaseConnections", "DBClusterIdentifier", var.watched.db_cluster_id, { stat = "Maximum" }],
      ]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "workflow" {
  dashboard_name = "${local.prefix}-course-workflow"
  dashboard_body = jsonencode({
    widgets = [
      for index, widget in local.widgets : {
        type   = "metric"
        x      = (index % 2) * 12
        y      = floor(index / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = 300
          metrics = widget.metrics
        }
      }
    ]
  })
}
