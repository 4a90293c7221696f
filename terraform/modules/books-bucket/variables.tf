variable "naming" {
  description = "Project and environment; the bucket is named <project>-<environment>-books-<account id>."
  type = object({
    project     = string
    environment = string
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.naming.project)) && can(regex("^[a-z][a-z0-9]{1,15}$", var.naming.environment))
    error_message = "project: lowercase letters, digits and dashes (2-31); environment: lowercase letters and digits (2-16)."
  }
}

variable "notification" {
  description = "The function S3 invokes for uploads: the post-processed app's books_notification output (function ARN, events, key prefix)."
  type = object({
    function_arn  = string
    events        = list(string)
    filter_prefix = string
  })

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:", var.notification.function_arn)) && length(var.notification.events) > 0
    error_message = "notification needs a Lambda function ARN and at least one event."
  }
}

variable "retention" {
  description = "How long uploads are kept: a loaded book lives in the library, the upload only serves to load it again. upload_days = 0 keeps uploads for good."
  type = object({
    upload_days            = optional(number, 90)
    noncurrent_days        = optional(number, 30)
    incomplete_upload_days = optional(number, 7)
  })
  default = {}

  validation {
    condition     = var.retention.upload_days >= 0 && var.retention.noncurrent_days >= 1 && var.retention.incomplete_upload_days >= 1
    error_message = "Retention periods are days, at least 1 (upload_days may be 0: keep)."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete a bucket that still holds uploads (a dev environment dropped whole)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
