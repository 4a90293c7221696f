# The workflow state: one item per course, written conditionally by every phase handler.
# Attribute and index names match chalicelib/adapters/dynamodb_state.py (the apply test checks).

resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-managed key by default; pass settings.kms_key_arn to use a customer-managed key (about 1 USD a month plus requests).
  name                        = "${var.naming.project}-${var.naming.environment}-course-state"
  billing_mode                = "PAY_PER_REQUEST" # idle most of the time: on-demand costs nothing at rest
  hash_key                    = "course_id"
  deletion_protection_enabled = var.settings.deletion_protection

  attribute {
    name = "course_id"
    type = "S"
  }

  attribute {
    name = "user_id"
    type = "S"
  }

  attribute {
    name = "created_at"
    type = "S"
  }

  attribute {
    name = "in_progress"
    type = "S"
  }

  attribute {
    name = "updated_at"
    type = "S"
  }

  # GET /courses: a user's courses, newest first.
  global_secondary_index {
    name            = "user_id-created_at-index"
    hash_key        = "user_id"
    range_key       = "created_at"
    projection_type = "ALL"
  }

  # The watchdog: a sparse index of the courses in progress. Only an item of a course neither
  # complete nor failed carries `in_progress` (its status), so finished courses and part results
  # stay out; a query per status reads the longest idle first. Keys only: the watchdog reads
  # each candidate again, consistently, before it acts.
  global_secondary_index {
    name            = "in_progress-updated_at-index"
    hash_key        = "in_progress"
    range_key       = "updated_at"
    projection_type = "KEYS_ONLY"
  }

  # The app refreshes `ttl` on every write, so only courses idle for 7 days expire.
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  # Always on: a lost state table strands every course in flight.
  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.settings.kms_key_arn
  }

  tags = var.tags
}
