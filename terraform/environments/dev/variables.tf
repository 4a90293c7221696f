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
  default     = "dev"
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
  description = "Aurora options passed to the aurora module (capacity, snapshots). Dev: 0.5-2 ACU, dropped with the environment."
  type = object({
    min_capacity          = optional(number, 0.5)
    max_capacity          = optional(number, 2)
    backup_retention_days = optional(number, 7)
    deletion_protection   = optional(bool, false)
    skip_final_snapshot   = optional(bool, true)
  })
  default = {}
}

variable "alarm_email" {
  description = "An address subscribed to the alarm topic (AWS sends a confirmation mail first); null: no subscription, the alarms still reach the topic."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an email address, or null."
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
  default     = 30
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
    deletion_protection = optional(bool, false)
    domain_prefix       = optional(string)
  })
  default = {}
}

variable "books" {
  description = "The books bucket users upload documents to (books-bucket module): days uploads and their old versions are kept (upload_days 0: for good), and whether destroy may delete a bucket holding uploads. Dev: uploads kept 90 days, the bucket emptied and deleted with the environment."
  type = object({
    upload_days     = optional(number, 90)
    noncurrent_days = optional(number, 30)
    force_destroy   = optional(bool, true)
  })
  default = {}
}
