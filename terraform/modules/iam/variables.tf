variable "naming" {
  description = "Project and environment; the roles are named <project>-<environment>-course-<concern>."
  type = object({
    project     = string
    environment = string
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.naming.project)) && can(regex("^[a-z][a-z0-9]{1,15}$", var.naming.environment))
    error_message = "project: lowercase letters, digits and dashes (2-31); environment: lowercase letters and digits (2-16)."
  }
}

variable "grants" {
  description = "What the app's functions may touch; each ARN becomes the resource of one statement, given to the roles that need it."
  type = object({
    event_bus_arn         = string
    table_arn             = string
    table_index_arns      = list(string)
    idle_index_arn        = string
    db_secret_arn         = string
    dead_letter_queue_arn = string
    # The Secrets Manager secret holding the model server's API key (null: none is read).
    model_secret_arn = optional(string)
    # Chalice names every function <app>-<stage>[-<handler>]: their log groups share this prefix.
    function_name_prefix = string
    # The books bucket the ingestion function reads uploads from (null: no uploads are read).
    books_bucket_arn = optional(string)
  })

  validation {
    condition     = var.grants.books_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.grants.books_bucket_arn))
    error_message = "books_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::name), or null."
  }

  validation {
    condition = alltrue([
      for arn in concat([var.grants.event_bus_arn, var.grants.table_arn, var.grants.idle_index_arn, var.grants.db_secret_arn, var.grants.dead_letter_queue_arn], var.grants.table_index_arns, compact([var.grants.model_secret_arn])) :
      can(regex("^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{12}:", arn))
    ])
    error_message = "Every grant must be a full ARN with a region and account."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,56}$", var.grants.function_name_prefix))
    error_message = "function_name_prefix must be a Lambda function name prefix (no wildcards)."
  }
}

# Apart from grants: which statements a role holds must not wait for the ARNs (the dead-letter
# queue's policy names the roles).
variable "options" {
  description = "Which optional statements the roles hold."
  type = object({
    # Lets the in-VPC roles (api, database, migrate, ingestion) manage their network interfaces in the VPC.
    vpc_access = optional(bool, true)
    # X-Ray trace segments (the functions run with active tracing).
    tracing = optional(bool, true)
    # The app reads each secret on first use (the database password at the first connection,
    # the model key at the first model call), so only the roles that use a secret may read it.
    # true lets every workflow role read both, for a package that reads both at every start.
    secrets_read_at_cold_start = optional(bool, false)
  })
  default = {}
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
