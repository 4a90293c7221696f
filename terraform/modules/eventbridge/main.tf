# The workflow's custom bus, the one dead-letter queue for everything that failed for good, and
# the alarms that say so. The rules themselves come from the Chalice module (post-processed).

locals {
  prefix = "${var.naming.project}-${var.naming.environment}"
  # Every rule on this bus, and only on this bus: arn:...:rule/<bus>/<rule>.
  rules_on_bus = "${replace(aws_cloudwatch_event_bus.this.arn, ":event-bus/", ":rule/")}/*"
}

resource "aws_cloudwatch_event_bus" "this" {
  name = "${local.prefix}-course-events"
  tags = var.tags
}

resource "aws_sqs_queue" "dead_letters" {
  name                       = "${local.prefix}-course-dead-letters"
  message_retention_seconds  = var.dead_letters.message_retention_seconds
  visibility_timeout_seconds = var.dead_letters.visibility_timeout_seconds
  # SSE-SQS: EventBridge can deliver to it without a KMS key policy.
  sqs_managed_sse_enabled = true
  tags                    = var.tags
}

data "aws_iam_policy_document" "dead_letters" {
  statement {
    sid       = "EventBridgeRulesOnTheBus"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.rules_on_bus]
    }
  }

  dynamic "statement" {
    for_each = length(var.dead_letters.sender_role_arns) > 0 ? [1] : []
    content {
      sid       = "LambdaOnFailureDestinations"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.dead_letters.arn]

      principals {
        type        = "AWS"
        identifiers = var.dead_letters.sender_role_arns
      }
    }
  }

  statement {
    sid       = "DenyWithoutTLS"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dead_letters.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "dead_letters" {
  queue_url = aws_sqs_queue.dead_letters.id
  policy    = data.aws_iam_policy_document.dead_letters.json
}

# A course failed for good (its consumer marks it failed): worth a look every time.
resource "aws_cloudwatch_metric_alarm" "dead_letters_received" {
  alarm_name          = "${local.prefix}-course-dead-letters-received"
  alarm_description   = "Workflow events reached the dead-letter queue: their courses ended as failed."
  namespace           = "AWS/SQS"
  metric_name         = "NumberOfMessagesSent"
  dimensions          = { QueueName = aws_sqs_queue.dead_letters.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarms.actions
  tags                = var.tags
}

# Messages staying on the queue: the dead-letter consumer is failing or absent.
resource "aws_cloudwatch_metric_alarm" "dead_letters_stuck" {
  alarm_name          = "${local.prefix}-course-dead-letters-stuck"
  alarm_description   = "Dead letters are not being consumed; courses may show a stale status."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letters.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = var.alarms.stuck_after_minutes / 5
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarms.actions
  ok_actions          = var.alarms.actions
  tags                = var.tags
}

# The oldest dead letter is older than the consumer ever takes: it is failing on that message.
resource "aws_cloudwatch_metric_alarm" "dead_letters_old" {
  alarm_name          = "${local.prefix}-course-dead-letters-old"
  alarm_description   = "A dead letter waited more than ${var.alarms.oldest_after_minutes} minutes: the consumer fails on it, so its course shows a stale status."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.dead_letters.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarms.oldest_after_minutes * 60
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarms.actions
  ok_actions          = var.alarms.actions
  tags                = var.tags
}

# EventBridge could not invoke a rule's target (after its retry policy, the event went to the DLQ).
resource "aws_cloudwatch_metric_alarm" "failed_invocations" {
  for_each = toset(var.alarms.rule_names)

  alarm_name          = "${each.value}-failed-invocations"
  alarm_description   = "EventBridge failed to deliver events of rule ${each.value} to its target."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { EventBusName = aws_cloudwatch_event_bus.this.name, RuleName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarms.actions
  tags                = var.tags
}
