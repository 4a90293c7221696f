output "bucket_name" {
  description = "The books bucket: upload documents to books/<owner>/<file>."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "The books bucket's ARN (the ingestion role reads <arn>/books/*; the app's invoke permission names it)."
  value       = aws_s3_bucket.this.arn
}
