# The books bucket: users upload documents to books/<owner>/<file>, and S3 invokes the ingestion
# function for each one (chalicelib/book_uploads.py). Private, TLS only, encrypted at rest,
# versioned so the function reads exactly the version an event names, and emptied over time.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  # Bucket names are global: the account and region make this one unique.
  name = "${var.naming.project}-${var.naming.environment}-books-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs need a second bucket to write to; CloudTrail data events or the function's logs (one line per upload, with its key and outcome) cover who loaded what.
  #checkov:skip=CKV_AWS_144:Uploads are inputs: the library they become lives in Aurora, with its own backups, and the user keeps the original; a replica in a second region would only double the storage.
  #checkov:skip=CKV_AWS_145:Encrypted with S3-managed keys (SSE-S3): a customer-managed KMS key adds a monthly fee and a key policy, and every uploader would need kms:GenerateDataKey on it, for documents that are the users' own books, not secrets.
  bucket        = local.name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# No ACLs: the bucket owner owns every upload, whoever wrote it.
resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# The event names the version uploaded, so an upload replaced while it is being read is still
# read whole; an overwritten or deleted upload can be recovered until its version expires.
resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "uploads"
    status = "Enabled"
    filter {
      prefix = "books/"
    }
    dynamic "expiration" {
      for_each = var.retention.upload_days > 0 ? [var.retention.upload_days] : []
      content {
        days = expiration.value
      }
    }
    noncurrent_version_expiration {
      noncurrent_days = var.retention.noncurrent_days
    }
  }

  rule {
    id     = "incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = var.retention.incomplete_upload_days
    }
    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

# Every request over TLS: plain HTTP is refused whoever sends it.
data "aws_iam_policy_document" "tls_only" {
  statement {
    sid     = "TlsOnly"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.tls_only.json
  # S3 refuses a policy while the public access block is being set.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# The bucket's one notification configuration: objects created under books/ invoke the ingestion
# function. The app module creates the function's invoke permission first (its output waits for
# it), since S3 checks that it may invoke the function when the configuration is put.
resource "aws_s3_bucket_notification" "this" {
  bucket = aws_s3_bucket.this.id

  lambda_function {
    lambda_function_arn = var.notification.function_arn
    events              = var.notification.events
    filter_prefix       = var.notification.filter_prefix
  }
}
