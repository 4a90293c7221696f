variable "naming" {
  description = "Project and environment; the pool is named <project>-<environment>-learners."
  type = object({
    project     = string
    environment = string
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.naming.project)) && can(regex("^[a-z][a-z0-9]{1,15}$", var.naming.environment))
    error_message = "project: lowercase letters, digits and dashes (2-31); environment: lowercase letters and digits (2-16)."
  }
}

variable "page_urls" {
  description = "URLs of the learner's page (the API stage's URL with a trailing slash, or a custom domain's): where the hosted sign-in may return. Empty: no hosted sign-in yet."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for url in var.page_urls : can(regex("^https://[^/]+/", url)) || can(regex("^http://localhost(:[0-9]+)?/", url))])
    error_message = "page_urls must be https:// URLs with a path (http://localhost only for testing)."
  }
}

variable "settings" {
  description = "Pool options: open self sign-up, protect the pool from deletion, fix the hosted sign-in domain prefix."
  type = object({
    self_sign_up        = optional(bool, false)
    deletion_protection = optional(bool, false)
    # null: <project>-<environment>-<digest of the pool id>.
    domain_prefix = optional(string)
  })
  default = {}

  validation {
    condition     = var.settings.domain_prefix == null || can(regex("^[a-z0-9](-?[a-z0-9])*$", var.settings.domain_prefix))
    error_message = "domain_prefix: lowercase letters, digits and single dashes."
  }
}

variable "tags" {
  description = "Tags for every resource of the module that takes them."
  type        = map(string)
  default     = {}
}
