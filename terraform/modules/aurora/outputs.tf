output "endpoint" {
  description = "Writer endpoint of the cluster (DB_CLUSTER_ENDPOINT)."
  value       = aws_rds_cluster.this.endpoint
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_rds_cluster.this.port
}

output "database_name" {
  description = "Name of the database (DB_NAME)."
  value       = aws_rds_cluster.this.database_name
}

output "master_username" {
  description = "Master user name (DB_MASTER_USERNAME)."
  value       = aws_rds_cluster.this.master_username
}

output "master_password_secret_arn" {
  description = "ARN of the Secrets Manager secret RDS manages for the master password (DB_PASSWORD_SECRET_ARN)."
  value       = aws_rds_cluster.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the cluster."
  value       = aws_security_group.this.id
}

output "cluster_arn" {
  description = "ARN of the cluster."
  value       = aws_rds_cluster.this.arn
}

output "engine_version_actual" {
  description = "The engine version running now (the configured major plus the minor RDS chose or upgraded to)."
  value       = aws_rds_cluster.this.engine_version_actual
}

output "cluster_id" {
  description = "Identifier of the cluster (the DBClusterIdentifier dimension of its metrics)."
  value       = aws_rds_cluster.this.cluster_identifier
}
