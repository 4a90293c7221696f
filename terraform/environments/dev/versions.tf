terraform {
  # 1.10: the S3 backend's native lock file (backend.tf.example).
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # .terraform.lock.hcl (committed) pins the exact version and its checksums.
      version = "~> 5.100"
    }
  }

  # State stays local until a backend is configured: copy backend.tf.example to backend.tf, fill
  # in the bucket and run `terraform init -migrate-state`.
}

provider "aws" {
  region = var.region

  default_tags {
    tags = { Project = var.project, Environment = var.environment, ManagedBy = "terraform" }
  }
}
