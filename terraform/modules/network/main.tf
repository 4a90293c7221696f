# A small VPC: two private subnets for Aurora and the database handlers, endpoints for the AWS
# APIs those handlers call, and (optionally) one NAT gateway for calls to a model endpoint.

data "aws_region" "current" {}

locals {
  prefix = "${var.naming.project}-${var.naming.environment}"
  zones  = var.network.availability_zones
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:Flow logs cost per GB and need a log role; enable them in environments that must audit traffic.
  cidr_block           = var.network.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true # private DNS names of the interface endpoints
  tags                 = merge(var.tags, { Name = local.prefix })
}

# The default security group allows all traffic between its members: leave it without rules.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${local.prefix}-default-unused" })
}

resource "aws_subnet" "private" {
  count             = 2
  vpc_id            = aws_vpc.this.id
  availability_zone = local.zones[count.index]
  cidr_block        = cidrsubnet(var.network.cidr_block, 4, count.index)
  tags              = merge(var.tags, { Name = "${local.prefix}-private-${local.zones[count.index]}" })
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${local.prefix}-private" })
}

resource "aws_route_table_association" "private" {
  count          = 2
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

resource "aws_security_group" "functions" {
  #checkov:skip=CKV2_AWS_5:Attached to the in-VPC Lambda functions by the Chalice module (vpc_config), which checkov scans separately.
  name        = "${local.prefix}-functions"
  description = "Functions that run in the VPC: reach Aurora, the endpoints and HTTPS"
  vpc_id      = aws_vpc.this.id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "functions_https" {
  security_group_id = aws_security_group.functions.id
  description       = "HTTPS: AWS APIs (endpoints, DynamoDB gateway) and the model endpoint through the NAT"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "functions_postgres" {
  security_group_id = aws_security_group.functions.id
  description       = "PostgreSQL inside the VPC (Aurora)"
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  cidr_ipv4         = var.network.cidr_block
}

resource "aws_vpc_endpoint" "dynamodb" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.dynamodb"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]
  tags              = merge(var.tags, { Name = "${local.prefix}-dynamodb" })
}

# The ingestion function downloads uploaded books from S3: a free gateway endpoint, like DynamoDB's,
# so the bytes never pass the NAT gateway (which charges per GB).
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]
  tags              = merge(var.tags, { Name = "${local.prefix}-s3" })
}

resource "aws_security_group" "endpoints" {
  count       = var.network.interface_endpoints ? 1 : 0
  name        = "${local.prefix}-endpoints"
  description = "Interface endpoints: HTTPS from the functions"
  vpc_id      = aws_vpc.this.id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  count                        = var.network.interface_endpoints ? 1 : 0
  security_group_id            = aws_security_group.endpoints[0].id
  description                  = "HTTPS from the functions in the VPC"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.functions.id
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = var.network.interface_endpoints ? toset(["events", "secretsmanager"]) : toset([])
  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
  tags                = merge(var.tags, { Name = "${local.prefix}-${each.key}" })
}

# --- optional internet egress: one NAT gateway in a public subnet --------------------------

resource "aws_subnet" "public" {
  count             = var.network.nat_gateway ? 1 : 0
  vpc_id            = aws_vpc.this.id
  availability_zone = local.zones[0]
  cidr_block        = cidrsubnet(var.network.cidr_block, 4, 15)
  tags              = merge(var.tags, { Name = "${local.prefix}-public" })
}

resource "aws_internet_gateway" "this" {
  count  = var.network.nat_gateway ? 1 : 0
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = local.prefix })
}

resource "aws_route_table" "public" {
  count  = var.network.nat_gateway ? 1 : 0
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${local.prefix}-public" })
}

resource "aws_route" "public_internet" {
  count                  = var.network.nat_gateway ? 1 : 0
  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count          = var.network.nat_gateway ? 1 : 0
  subnet_id      = aws_subnet.public[0].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_eip" "nat" {
  count  = var.network.nat_gateway ? 1 : 0
  domain = "vpc"
  tags   = merge(var.tags, { Name = "${local.prefix}-nat" })
}

resource "aws_nat_gateway" "this" {
  count         = var.network.nat_gateway ? 1 : 0
  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id
  tags          = merge(var.tags, { Name = local.prefix })
  depends_on    = [aws_internet_gateway.this]
}

resource "aws_route" "private_internet" {
  count                  = var.network.nat_gateway ? 1 : 0
  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[0].id
}
