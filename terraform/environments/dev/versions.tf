terraform {
  required_version = ">= 1.3.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }

  # State stays local by default (terraform.tfstate here, ignored by git). For a shared
  # environment, configure a backend, e.g. backend "s3" { bucket = "...", key = "coursegen/dev" }.
}

provider "aws" {
  region = var.region

  default_tags {
    tags = { Project = var.project, Environment = var.environment, ManagedBy = "terraform" }
  }
}
