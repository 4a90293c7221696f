variable "naming" {
  description = "Project and environment; the table is named <project>-<environment>-course-state."
  type = object({
    project     = string
    environment = string
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.naming.project)) && can(regex("^[a-z][a-z0-9]{1,15}$", var.naming.environment))
    error_message = "project: lowercase letters, digits and dashes (2-31); environment: lowercase letters and digits (2-16)."
  }
}

variable "settings" {
  description = "Table options. Item expiry (7 days after a course's last write) is set by the app in the `ttl` attribute."
  type = object({
    deletion_protection = optional(bool, false)
    # null: DynamoDB's AWS-managed key (aws/dynamodb); an ARN: your customer-managed KMS key.
    kms_key_arn = optional(string)
  })
  default = {}

  validation {
    condition     = var.settings.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.settings.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN or null."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
