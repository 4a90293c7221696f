variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "project" {
  description = "Prefix of every resource name (docprof-dev-course-state, docprof-dev-course-events)."
  type        = string
  default     = "docprof"
}

variable "environment" {
  description = "Environment name; the Chalice stage of the same name is in ./app."
  type        = string
  default     = "prod"
}

variable "network" {
  description = "VPC options: two availability zones (null: the region's first two), endpoints, NAT gateway."
  type = object({
    cidr_block          = optional(string, "10.40.0.0/16")
    availability_zones  = optional(list(string))
    interface_endpoints = optional(bool, true)
    nat_gateway         = optional(bool, true)
  })
  default = {}
}

variable "database" {
  description = "Aurora options passed to the aurora module. Prod: 1-8 ACU, 14 days of backups, deletion protection, a final snapshot on destroy."
  type = object({
    min_capacity          = optional(number, 1)
    max_capacity          = optional(number, 8)
    backup_retention_days = optional(number, 14)
    deletion_protection   = optional(bool, true)
    skip_final_snapshot   = optional(bool, false)
  })
  default = {}

  validation {
    condition     = var.database.deletion_protection && !var.database.skip_final_snapshot
    error_message = "prod keeps its data: deletion_protection stays true and skip_final_snapshot false."
  }
}

variable "alarm_email" {
  description = "Who gets the alarms: subscribed to the alarm topic (AWS sends a confirmation mail first). Required in prod."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an email address: prod alarms must reach someone."
  }
}

variable "alarm_actions" {
  description = "Further alarm actions (e.g. a chat or paging topic's ARN) besides the environment's own alarm topic."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups."
  type        = number
  default     = 90
}

variable "model" {
  description = "The OpenAI-compatible model server the planner and embedder call (base_url null: OpenAI). Its API key goes into the secret this environment creates (output model_api_key_secret_arn)."
  type = object({
    base_url        = optional(string, "")
    chat_model      = optional(string, "gpt-4o-mini")
    embedding_model = optional(string, "text-embedding-3-small")
  })
  default = {}

  validation {
    condition     = var.model.base_url == "" || can(regex("^https?://", var.model.base_url))
    error_message = "model.base_url must be an http(s) URL ending in /v1, or empty for OpenAI."
  }

  validation {
    condition     = length(trimspace(var.model.chat_model)) > 0 && length(trimspace(var.model.embedding_model)) > 0
    error_message = "model.chat_model and model.embedding_model must not be empty."
  }
}

variable "learners" {
  description = "The learners' sign-in (cognito module): page_urls are the page's URLs the hosted sign-in may return to (after the first apply: the api_url output with a trailing slash); self_sign_up opens sign-up to anyone."
  type = object({
    page_urls           = optional(list(string), [])
    self_sign_up        = optional(bool, false)
    deletion_protection = optional(bool, true)
    domain_prefix       = optional(string)
  })
  default = {}
}

variable "books" {
  description = "The books bucket users upload documents to (books-bucket module): days uploads and their old versions are kept (upload_days 0: for good), and whether destroy may delete a bucket holding uploads. Prod: uploads kept 90 days; destroy refuses a bucket that still holds uploads."
  type = object({
    upload_days     = optional(number, 90)
    noncurrent_days = optional(number, 30)
    force_destroy   = optional(bool, false)
  })
  default = {}
}
