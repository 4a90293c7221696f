# An environment: our modules plus the app as Chalice packaged it for the stage of the same name.
# `make package STAGE=<env>` writes ./app (post-processed `chalice package --pkg-format terraform`
# output and the Lambda zip). environments/prod shares this file; its variables.tf differs.

data "aws_caller_identity" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first two zones in name order are used; new zones get later letters, so the choice does not move. Set network.availability_zones to pin them.
  state = "available"
}

locals {
  naming = { project = var.project, environment = var.environment }
  zones  = coalesce(var.network.availability_zones, slice(data.aws_availability_zones.available.names, 0, 2))
}

module "network" {
  source = "../../modules/network"
  naming = local.naming
  network = {
    cidr_block          = var.network.cidr_block
    availability_zones  = local.zones
    interface_endpoints = var.network.interface_endpoints
    nat_gateway         = var.network.nat_gateway
  }
}

module "course_state" {
  source = "../../modules/dynamodb-course-state"
  naming = local.naming
}

module "events" {
  source = "../../modules/eventbridge"
  naming = local.naming
  dead_letters = {
    sender_role_arns = module.iam.dead_letter_sender_role_arns
  }
  alarms = {
    rule_names = values(module.app.rule_names)
    actions    = concat([module.monitoring.topic_arn], var.alarm_actions)
  }
}

# The alarm topic, the alarms on functions, API and Aurora, and the workflow's dashboard.
module "monitoring" {
  source      = "../../modules/monitoring"
  naming      = local.naming
  alarm_email = var.alarm_email
  watched = {
    functions              = module.app.function_names
    watchdog_function      = module.app.function_names["course-watchdog"]
    api_name               = module.app.api_name
    api_stage              = module.app.api_stage_name
    rule_names             = values(module.app.rule_names)
    event_bus_name         = module.events.bus_name
    dead_letter_queue_name = module.events.dead_letter_queue_name
    db_cluster_id          = module.database.cluster_id
  }
}

module "database" {
  source = "../../modules/aurora"
  naming = local.naming
  network = {
    vpc_id                    = module.network.vpc_id
    subnet_ids                = module.network.private_subnet_ids
    client_security_group_ids = [module.network.function_security_group_id]
  }
  database = var.database
}

# The model server's API key. Terraform creates the secret, never its value (which would sit in
# the state file): put the key in with `aws secretsmanager put-secret-value` (docs/deployment.md).
resource "aws_secretsmanager_secret" "model_api_key" {
  #checkov:skip=CKV_AWS_149:The key is encrypted with the account's AWS-managed Secrets Manager key; a customer-managed key adds a monthly fee and a key policy to keep, for one secret.
  #checkov:skip=CKV2_AWS_57:A model vendor's API key cannot be rotated by a Lambda; rotate it at the vendor and put the new value.
  name                    = "${var.project}-${var.environment}-model-api-key"
  description             = "API key of the model server the course planner calls."
  recovery_window_in_days = 0
}

# The learners' sign-in: the /app routes the page calls accept this pool's ID tokens.
module "learners" {
  source    = "../../modules/cognito"
  naming    = local.naming
  page_urls = var.learners.page_urls
  settings = {
    self_sign_up        = var.learners.self_sign_up
    deletion_protection = var.learners.deletion_protection
    domain_prefix       = var.learners.domain_prefix
  }
}

# The books bucket: a document uploaded to books/<owner>/<file> invokes the app's ingestion
# function, which loads it into the library (docs/deployment.md, "Loading books").
module "books" {
  source        = "../../modules/books-bucket"
  naming        = local.naming
  notification  = module.app.books_notification
  force_destroy = var.books.force_destroy
  retention = {
    upload_days     = var.books.upload_days
    noncurrent_days = var.books.noncurrent_days
  }
}

module "iam" {
  source = "../../modules/iam"
  naming = local.naming
  grants = {
    event_bus_arn         = module.events.bus_arn
    table_arn             = module.course_state.table_arn
    table_index_arns      = [module.course_state.user_index_arn]
    idle_index_arn        = module.course_state.idle_index_arn
    db_secret_arn         = module.database.master_password_secret_arn
    dead_letter_queue_arn = module.events.dead_letter_queue_arn
    function_name_prefix  = module.app.function_name_prefix
    model_secret_arn      = aws_secretsmanager_secret.model_api_key.arn
    books_bucket_arn      = module.books.bucket_arn
  }
}

# The app. Its inputs are the ${var.*} references of .chalice/config.json (the stage named after
# this environment) and the bus and queue the post-processor put the rules and targets on.
module "app" {
  source = "./app"

  event_bus_name        = module.events.bus_name
  dead_letter_queue_arn = module.events.dead_letter_queue_arn
  log_retention_days    = var.log_retention_days
  books_bucket_arn      = module.books.bucket_arn
  books_bucket_name     = module.books.bucket_name

  function_role_arns      = module.iam.role_arns
  learner_user_pool_arn   = module.learners.user_pool_arn
  sign_in_domain          = module.learners.domain
  sign_in_client_id       = module.learners.client_id
  course_state_table_name = module.course_state.table_name
  aws_account_id          = data.aws_caller_identity.current.account_id
  db_cluster_endpoint     = module.database.endpoint
  db_name                 = module.database.database_name
  db_master_username      = module.database.master_username
  db_password_secret_arn  = module.database.master_password_secret_arn

  openai_base_url           = var.model.base_url
  openai_api_key_secret_arn = aws_secretsmanager_secret.model_api_key.arn
  chat_model                = var.model.chat_model
  embedding_model           = var.model.embedding_model

  # Only the handlers that use the database run in the VPC (see .chalice/config.json).
  vpc_subnet_ids        = module.network.private_subnet_ids
  vpc_security_group_id = module.network.function_security_group_id
}

# The schema in the stack: the migration function (in the VPC, with the migrate role) runs on the
# first apply and again whenever the packaged migrations change. It fails the apply if a
# migration fails. Aurora, its secret's endpoint (or the NAT) and the role must exist first.
resource "aws_lambda_invocation" "migrate" {
  function_name = module.app.migration_function_name
  input         = jsonencode({ migrations_sha256 = module.app.migrations_sha256 })
  triggers      = { migrations_sha256 = module.app.migrations_sha256 }
  depends_on    = [module.database, module.network, module.iam]
}
