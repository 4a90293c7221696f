output "user_pool_arn" {
  description = "ARN of the learners' user pool (the /app routes' authorizer)."
  value       = aws_cognito_user_pool.this.arn
}

output "user_pool_id" {
  description = "Id of the learners' user pool (aws cognito-idp admin-create-user --user-pool-id)."
  value       = aws_cognito_user_pool.this.id
}

output "client_id" {
  description = "Id of the page's public app client (COURSEGEN_SIGN_IN_CLIENT_ID)."
  value       = aws_cognito_user_pool_client.page.id
}

output "domain" {
  description = "Host of the hosted sign-in pages (COURSEGEN_SIGN_IN_DOMAIN)."
  value       = "${aws_cognito_user_pool_domain.this.domain}.auth.${data.aws_region.current.name}.amazoncognito.com"
}
