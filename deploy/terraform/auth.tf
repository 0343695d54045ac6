# Who may change state through the API: the app checks Entra ID access
# tokens (v2) for this app registration, and writes (calibration, the
# device registry) need its app role Enviromon.Write. Assign the role to
# users, groups or client applications in Entra ID (Enterprise applications
# → enviromon-<suffix> → Users and groups, or API permissions of a client
# app); the README, "Security", shows how to get a token.

data "azuread_client_config" "current" {}

resource "azuread_application" "api" {
  display_name     = local.base
  sign_in_audience = "AzureADMyOrg"
  owners           = [data.azuread_client_config.current.object_id]

  api {
    # v2 tokens: iss https://login.microsoftonline.com/{tenant}/v2.0 and aud
    # the client id, which is what the aks overlay tells the app to expect.
    requested_access_token_version = 2
  }

  app_role {
    allowed_member_types = ["User", "Application"]
    description          = "Change calibrations and the device registry of Enviromon."
    display_name         = "Enviromon.Write"
    enabled              = true
    id                   = "3c4e1b7a-8f2d-4e6b-9a51-2d0f7c8e6b14"
    value                = "Enviromon.Write"
  }
}

resource "azuread_service_principal" "api" {
  client_id = azuread_application.api.client_id
  owners    = [data.azuread_client_config.current.object_id]
}

locals {
  # What the app checks (azure.env: AUTH_ISSUER, AUTH_AUDIENCE).
  auth_issuer   = "https://login.microsoftonline.com/${data.azuread_client_config.current.tenant_id}/v2.0"
  auth_audience = azuread_application.api.client_id
}
