variable "naming" {
  description = "Project and environment; the bus is named <project>-<environment>-course-events."
  type = object({
    project     = string
    environment = string
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.naming.project)) && can(regex("^[a-z][a-z0-9]{1,15}$", var.naming.environment))
    error_message = "project: lowercase letters, digits and dashes (2-31); environment: lowercase letters and digits (2-16)."
  }
}

variable "dead_letters" {
  description = "The dead-letter queue: target DLQ of every rule and on-failure destination of every handler."
  type = object({
    message_retention_seconds = optional(number, 1209600) # 14 days, SQS's maximum
    # At least 6x the consuming function's timeout, as Lambda's SQS event source advises.
    visibility_timeout_seconds = optional(number, 180)
    # Roles whose functions send to the queue as Lambda on-failure destinations.
    sender_role_arns = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = var.dead_letters.message_retention_seconds >= 60 && var.dead_letters.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600."
  }

  validation {
    condition     = var.dead_letters.visibility_timeout_seconds >= 0 && var.dead_letters.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200."
  }

  validation {
    condition     = alltrue([for arn in var.dead_letters.sender_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", arn))])
    error_message = "sender_role_arns must be IAM role ARNs."
  }
}

variable "alarms" {
  description = "CloudWatch alarms: failed deliveries of the named rules on the bus, dead letters received, stuck and old."
  type = object({
    rule_names = list(string)
    # SNS topics (or other alarm actions) to notify; empty leaves the alarms visible in the console only.
    actions = optional(list(string), [])
    # A dead letter that stays this long means the consumer is not draining the queue.
    stuck_after_minutes = optional(number, 15)
    # The oldest dead letter's age that means the consumer keeps failing on it.
    oldest_after_minutes = optional(number, 30)
  })

  validation {
    condition     = var.alarms.stuck_after_minutes >= 5 && var.alarms.stuck_after_minutes % 5 == 0
    error_message = "stuck_after_minutes must be a multiple of 5, at least 5."
  }

  validation {
    condition     = var.alarms.oldest_after_minutes >= 5
    error_message = "oldest_after_minutes must be at least 5."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
