output "bus_name" {
  description = "Name of the custom bus (EVENT_BUS_NAME)."
  value       = aws_cloudwatch_event_bus.this.name
}

output "bus_arn" {
  description = "ARN of the custom bus."
  value       = aws_cloudwatch_event_bus.this.arn
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dead_letters.arn
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dead_letters.id
}

output "alarm_names" {
  description = "Names of every alarm the module creates."
  value = concat(
    [for alarm in [aws_cloudwatch_metric_alarm.dead_letters_received, aws_cloudwatch_metric_alarm.dead_letters_stuck, aws_cloudwatch_metric_alarm.dead_letters_old] : alarm.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.failed_invocations : alarm.alarm_name],
  )
}

output "dead_letter_queue_name" {
  description = "Name of the dead-letter queue (the QueueName dimension of its metrics)."
  value       = aws_sqs_queue.dead_letters.name
}
