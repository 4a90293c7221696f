output "course_request_endpoint" {
  description = "POST /courses of the deployed API: the seed's curl test."
  value       = module.app.course_request_endpoint
}

output "api_url" {
  description = "Base URL of the API stage."
  value       = module.app.EndpointURL
}

output "event_bus_name" {
  description = "The workflow's custom bus."
  value       = module.events.bus_name
}

output "course_state_table_name" {
  description = "The course state table."
  value       = module.course_state.table_name
}

output "dead_letter_queue_url" {
  description = "The dead-letter queue (its consumer marks courses failed)."
  value       = module.events.dead_letter_queue_url
}

output "db_cluster_endpoint" {
  description = "Aurora writer endpoint (private: reach it from the VPC or through a tunnel)."
  value       = module.database.endpoint
}

output "db_name" {
  description = "Aurora database name."
  value       = module.database.database_name
}

output "db_master_username" {
  description = "Aurora master user."
  value       = module.database.master_username
}

output "db_password_secret_arn" {
  description = "Secrets Manager secret with the Aurora master password."
  value       = module.database.master_password_secret_arn
}

output "model_api_key_secret_arn" {
  description = "Put the model server's API key here: aws secretsmanager put-secret-value --secret-id <this> --secret-string <key>."
  value       = aws_secretsmanager_secret.model_api_key.arn
}

output "alarm_topic_arn" {
  description = "Every alarm notifies this SNS topic; subscribe more endpoints to it as needed."
  value       = module.monitoring.topic_arn
}

output "dashboard_name" {
  description = "The CloudWatch dashboard of the workflow."
  value       = module.monitoring.dashboard_name
}

output "schema_migrations" {
  description = "What the migration function answered on its last invocation (versions applied, digest)."
  value       = aws_lambda_invocation.migrate.result
}

output "learner_page_url" {
  description = "The learner's page (GET / of the API stage); put it in learners.page_urls to enable the hosted sign-in."
  value       = "${module.app.EndpointURL}/"
}

output "learner_user_pool_id" {
  description = "The learners' user pool: invite a learner with aws cognito-idp admin-create-user --user-pool-id <this> --username <email>."
  value       = module.learners.user_pool_id
}

output "learner_sign_in_domain" {
  description = "Host of the learners' hosted sign-in pages."
  value       = module.learners.domain
}

output "books_bucket_name" {
  description = "Upload books here to load them into the library: aws s3 cp book.pdf s3://<this>/books/<your user id>/ (GET /books shows how far each got)."
  value       = module.books.bucket_name
}
