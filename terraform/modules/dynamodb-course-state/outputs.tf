output "table_name" {
  description = "Name of the course state table (DYNAMODB_COURSE_STATE_TABLE_NAME)."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the course state table."
  value       = aws_dynamodb_table.this.arn
}

output "user_index_arn" {
  description = "ARN of the user_id-created_at-index global secondary index."
  value       = "${aws_dynamodb_table.this.arn}/index/user_id-created_at-index"
}

output "idle_index_arn" {
  description = "ARN of the in_progress-updated_at-index global secondary index (the watchdog's)."
  value       = "${aws_dynamodb_table.this.arn}/index/in_progress-updated_at-index"
}
