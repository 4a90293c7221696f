output "role_arn" {
  description = "ARN of the functions' execution role (iam_role_arn in .chalice/config.json)."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the functions' execution role."
  value       = aws_iam_role.this.name
}
