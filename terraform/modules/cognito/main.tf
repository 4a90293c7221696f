# The learners' user pool: the browser's /app routes accept its ID tokens (API Gateway's Cognito
# authorizer), and the page signs in through its hosted sign-in pages with the code flow and PKCE.

data "aws_region" "current" {}

resource "aws_cognito_user_pool" "this" {
  name                     = "${var.naming.project}-${var.naming.environment}-learners"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  deletion_protection      = var.settings.deletion_protection ? "ACTIVE" : "INACTIVE"
  mfa_configuration        = "OPTIONAL"

  software_token_mfa_configuration {
    enabled = true
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = false
    temporary_password_validity_days = 7
  }

  # Invitation only unless the environment opens sign-up: every learner costs model tokens.
  admin_create_user_config {
    allow_admin_create_user_only = !var.settings.self_sign_up
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  tags = var.tags
}

# The hosted sign-in pages at <prefix>.auth.<region>.amazoncognito.com. The prefix is global to
# the region, so it carries a digest of the pool's id unless one is given.
resource "aws_cognito_user_pool_domain" "this" {
  domain       = coalesce(var.settings.domain_prefix, "${var.naming.project}-${var.naming.environment}-${substr(sha1(aws_cognito_user_pool.this.id), 0, 10)}")
  user_pool_id = aws_cognito_user_pool.this.id
}

# The page's client: public (a browser keeps no secret), so the code flow is bound by PKCE. With
# no page URLs yet (the first apply makes the API) the hosted sign-in stays off for it.
resource "aws_cognito_user_pool_client" "page" {
  name                                 = "${var.naming.project}-${var.naming.environment}-page"
  user_pool_id                         = aws_cognito_user_pool.this.id
  generate_secret                      = false
  supported_identity_providers         = ["COGNITO"]
  explicit_auth_flows                  = ["ALLOW_REFRESH_TOKEN_AUTH"]
  allowed_oauth_flows_user_pool_client = length(var.page_urls) > 0
  allowed_oauth_flows                  = length(var.page_urls) > 0 ? ["code"] : []
  allowed_oauth_scopes                 = length(var.page_urls) > 0 ? ["openid", "email"] : []
  callback_urls                        = var.page_urls
  logout_urls                          = var.page_urls
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true
  id_token_validity                    = 60
  access_token_validity                = 60
  refresh_token_validity               = 30

  token_validity_units {
    id_token      = "minutes"
    access_token  = "minutes"
    refresh_token = "days"
  }
}
