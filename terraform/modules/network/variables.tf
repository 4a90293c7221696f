variable "naming" {
  description = "Project and environment; resources are named <project>-<environment>-..."
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
  description = "The VPC for Aurora and the functions that use it."
  type = object({
    cidr_block = optional(string, "10.40.0.0/16")
    # Two zones: an Aurora subnet group needs subnets in at least two.
    availability_zones = list(string)
    # Private endpoints for the AWS APIs the database handlers call (EventBridge, Secrets Manager);
    # DynamoDB always gets a (free) gateway endpoint.
    interface_endpoints = optional(bool, true)
    # Internet egress for in-VPC functions that call a model endpoint (the API handler embeds the query).
    nat_gateway = optional(bool, true)
  })

  validation {
    condition     = can(cidrnetmask(var.network.cidr_block)) && tonumber(split("/", var.network.cidr_block)[1]) <= 20
    error_message = "cidr_block must be an IPv4 CIDR of /20 or larger."
  }

  validation {
    condition     = length(var.network.availability_zones) == 2
    error_message = "availability_zones must name exactly two zones."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
