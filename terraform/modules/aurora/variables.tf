variable "naming" {
  description = "Project and environment; the cluster is named <project>-<environment>-courses."
  type = object({
    project     = string
    environment = string
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.naming.project)) && can(regex("^[a-z][a-z0-9]{1,15}$", var.naming.environment))
    error_message = "project: lowercase letters, digits and dashes (2-31); environment: lowercase letters and digits (2-16)."
  }
}

variable "network" {
  description = "Where the cluster lives and who may connect to it on 5432."
  type = object({
    vpc_id                    = string
    subnet_ids                = list(string)
    client_security_group_ids = list(string)
  })

  validation {
    condition     = length(var.network.subnet_ids) >= 2
    error_message = "An Aurora subnet group needs subnets in at least two availability zones."
  }
}

variable "database" {
  description = "Engine, capacity and lifecycle of the Aurora PostgreSQL Serverless v2 cluster."
  type = object({
    name            = optional(string, "coursegen")
    master_username = optional(string, "coursegen")
    # The major version only: RDS picks its default minor and the instance's
    # auto_minor_version_upgrade moves it on, so a later plan never tries a downgrade.
    # pgvector with HNSW needs 15.4+ / 16.1+, which every current default minor is.
    engine_version = optional(string, "16")
    # Aurora capacity units; 0.5 ACU is the floor of Serverless v2 (0 pauses it, engine 16.3+).
    min_capacity          = optional(number, 0.5)
    max_capacity          = optional(number, 2)
    backup_retention_days = optional(number, 7)
    deletion_protection   = optional(bool, false)
    # Dev: a destroy drops the data. Set false to keep a final snapshot.
    skip_final_snapshot = optional(bool, true)
  })
  default = {}

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.database.name)) && can(regex("^[a-z][a-z0-9_]{0,15}$", var.database.master_username))
    error_message = "name and master_username: lowercase letters, digits and underscores, starting with a letter."
  }

  validation {
    condition     = can(regex("^(1[5-9]|[2-9][0-9])$", var.database.engine_version))
    error_message = "engine_version must be a major version only (16), Aurora PostgreSQL 15 or later (pgvector with HNSW); minors upgrade automatically."
  }

  validation {
    condition     = var.database.min_capacity >= 0 && var.database.max_capacity >= var.database.min_capacity && var.database.max_capacity <= 256
    error_message = "Capacity: 0 <= min_capacity <= max_capacity <= 256 ACU."
  }

  validation {
    condition     = var.database.backup_retention_days >= 1 && var.database.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
