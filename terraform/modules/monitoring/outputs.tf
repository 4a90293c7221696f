output "topic_arn" {
  description = "The alarm topic: every alarm of the environment notifies it."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Names of every alarm the module creates."
  value = concat(
    [for alarm in aws_cloudwatch_metric_alarm.function_errors : alarm.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.function_throttles : alarm.alarm_name],
    [aws_cloudwatch_metric_alarm.api_5xx.alarm_name, aws_cloudwatch_metric_alarm.api_latency.alarm_name],
    [aws_cloudwatch_metric_alarm.db_capacity.alarm_name, aws_cloudwatch_metric_alarm.db_connections.alarm_name],
    [aws_cloudwatch_metric_alarm.stalled_courses.alarm_name],
  )
}

output "dashboard_name" {
  description = "The CloudWatch dashboard of the workflow."
  value       = aws_cloudwatch_dashboard.workflow.dashboard_name
}
