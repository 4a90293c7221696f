# Aurora PostgreSQL Serverless v2: the library (pgvector) and the stored courses. The master
# password lives only in the Secrets Manager secret RDS manages (and rotates).

locals {
  name = "${var.naming.project}-${var.naming.environment}-courses"
}

resource "aws_db_subnet_group" "this" {
  name       = local.name
  subnet_ids = var.network.subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "this" {
  name        = local.name
  description = "Aurora PostgreSQL: 5432 from the functions that use the database"
  vpc_id      = var.network.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  count                        = length(var.network.client_security_group_ids)
  security_group_id            = aws_security_group.this.id
  description                  = "PostgreSQL from the in-VPC functions"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = var.network.client_security_group_ids[count.index]
}

# TLS only (the app connects with sslmode=require); DDL and slow statements in the logs.
resource "aws_rds_cluster_parameter_group" "this" {
  name        = local.name
  family      = "aurora-postgresql${var.database.engine_version}"
  description = "coursegen: TLS required, DDL and slow statements logged"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000" # milliseconds
  }

  tags = var.tags
}

resource "aws_rds_cluster" "this" {
  #checkov:skip=CKV_AWS_139:Deletion protection is database.deletion_protection, off by default so a dev environment can be torn down; turn it on for production.
  #checkov:skip=CKV_AWS_133:False positive: checkov cannot evaluate optional() defaults; backup_retention_days defaults to 7 and its validation requires at least 1.
  #checkov:skip=CKV_AWS_327:Storage is encrypted with the AWS-managed RDS key; a customer-managed key adds cost and key-policy upkeep for a dev environment.
  #checkov:skip=CKV2_AWS_8:Backups are Aurora's automated backups (backup_retention_days); an AWS Backup plan is an organisation-level choice.
  cluster_identifier = local.name
  engine             = "aurora-postgresql"
  engine_mode        = "provisioned" # Serverless v2 is provisioned mode with db.serverless instances
  # A major version: the provider keeps it in state while engine_version_actual follows the
  # minor AWS upgrades to, so no plan tries to go back.
  engine_version                      = var.database.engine_version
  database_name                       = var.database.name
  master_username                     = var.database.master_username
  manage_master_user_password         = true
  iam_database_authentication_enabled = true
  storage_encrypted                   = true
  db_subnet_group_name                = aws_db_subnet_group.this.name
  vpc_security_group_ids              = [aws_security_group.this.id]
  db_cluster_parameter_group_name     = aws_rds_cluster_parameter_group.this.name
  backup_retention_period             = var.database.backup_retention_days
  copy_tags_to_snapshot               = true
  deletion_protection                 = var.database.deletion_protection
  skip_final_snapshot                 = var.database.skip_final_snapshot
  final_snapshot_identifier           = var.database.skip_final_snapshot ? null : "${local.name}-final"
  enabled_cloudwatch_logs_exports     = ["postgresql"]

  serverlessv2_scaling_configuration {
    min_capacity = var.database.min_capacity
    max_capacity = var.database.max_capacity
  }

  tags = var.tags
}

resource "aws_rds_cluster_instance" "this" {
  #checkov:skip=CKV_AWS_118:Enhanced monitoring needs its own IAM role and costs per instance; Performance Insights covers dev diagnostics.
  #checkov:skip=CKV_AWS_354:Performance Insights data is encrypted with the AWS-managed key, as the cluster storage is.
  identifier                   = "${local.name}-1"
  cluster_identifier           = aws_rds_cluster.this.id
  instance_class               = "db.serverless"
  engine                       = aws_rds_cluster.this.engine # its version is the cluster's
  db_subnet_group_name         = aws_db_subnet_group.this.name
  publicly_accessible          = false
  auto_minor_version_upgrade   = true
  performance_insights_enabled = true # 7 days of retention are free
  tags                         = var.tags
}
