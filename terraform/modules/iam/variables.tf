variable "naming" {
  description = "Project and environment; the role is named <project>-<environment>-course-app."
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
  description = "What the app's functions may touch; each ARN becomes the resource of one statement."
  type = object({
    event_bus_arn         = string
    table_arn             = string
    table_index_arns      = list(string)
    db_secret_arn         = string
    dead_letter_queue_arn = string
    # The Secrets Manager secret holding the model server's API key (null: none is read).
    model_secret_arn = optional(string)
    # Chalice names every function <app>-<stage>[-<handler>]: their log groups share this prefix.
    function_name_prefix = string
    # Lets the database handlers create and remove their network interfaces in the VPC.
    vpc_access = optional(bool, true)
    # X-Ray trace segments (the functions run with active tracing).
    tracing = optional(bool, true)
  })

  validation {
    condition = alltrue([
      for arn in concat([var.grants.event_bus_arn, var.grants.table_arn, var.grants.db_secret_arn, var.grants.dead_letter_queue_arn], var.grants.table_index_arns, compact([var.grants.model_secret_arn])) :
      can(regex("^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{12}:", arn))
    ])
    error_message = "Every grant must be a full ARN with a region and account."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,56}$", var.grants.function_name_prefix))
    error_message = "function_name_prefix must be a Lambda function name prefix (no wildcards)."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
