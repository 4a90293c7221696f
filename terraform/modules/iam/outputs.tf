output "role_arns" {
  description = "Execution role per concern (api, planners, database, dead_letters, migrate, watchdog, ingestion): the post-processed Chalice module's function_role_arns."
  value       = { for concern, role in aws_iam_role.this : concern => role.arn }
  # Lambda checks an in-VPC function's permissions when it creates it: the policies come first.
  depends_on = [aws_iam_role_policy.this]
}

output "role_names" {
  description = "Execution role names per concern."
  value       = { for concern, role in aws_iam_role.this : concern => role.name }
}

output "dead_letter_sender_role_arns" {
  description = "Roles of the event handlers, whose failed invocations Lambda sends to the dead-letter queue."
  value       = [aws_iam_role.this["planners"].arn, aws_iam_role.this["database"].arn]
}
