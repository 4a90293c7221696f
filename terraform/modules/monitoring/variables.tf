variable "naming" {
  description = "Project and environment; the topic is named <project>-<environment>-alarms."
  type = object({
    project     = string
    environment = string
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.naming.project)) && can(regex("^[a-z][a-z0-9]{1,15}$", var.naming.environment))
    error_message = "project: lowercase letters, digits and dashes (2-31); environment: lowercase letters and digits (2-16)."
  }
}

variable "alarm_email" {
  description = "An address subscribed to the alarm topic (AWS mails a confirmation link first); null: none."
  type        = string
  default     = null
}

variable "watched" {
  description = "What the alarms and the dashboard watch: the functions (key -> Lambda name), the API stage, the rules, the dead-letter queue, the Aurora cluster and the watchdog function."
  type = object({
    functions              = map(string)
    watchdog_function      = string
    api_name               = string
    api_stage              = string
    rule_names             = list(string)
    event_bus_name         = string
    dead_letter_queue_name = string
    db_cluster_id          = string
  })
}

variable "thresholds" {
  description = "When the alarms fire. Lambda errors and throttles, and API 5XX responses, fire on the first one."
  type = object({
    # p90 of API Gateway's latency over three 5-minute periods (POST embeds the query with the model).
    api_latency_p90_ms = optional(number, 5000)
    # Aurora Serverless v2 near its max_capacity for 15 minutes: raise max_capacity.
    db_acu_utilization_percent = optional(number, 90)
    # Open connections (each warm in-VPC function keeps one).
    db_connections = optional(number, 100)
    # Stalled courses the watchdog redrove in 5 minutes (one already means an event was lost).
    stalled_redrives = optional(number, 1)
  })
  default = {}

  validation {
    condition     = var.thresholds.api_latency_p90_ms > 0 && var.thresholds.db_acu_utilization_percent > 0 && var.thresholds.db_acu_utilization_percent <= 100 && var.thresholds.db_connections > 0 && var.thresholds.stalled_redrives > 0
    error_message = "Thresholds must be positive; db_acu_utilization_percent at most 100."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
