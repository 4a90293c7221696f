output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "The two private subnets (Aurora, in-VPC functions)."
  value       = aws_subnet.private[*].id
}

output "function_security_group_id" {
  description = "Security group of the functions that run in the VPC."
  value       = aws_security_group.functions.id
}
