# Provider pins. azurerm ~> 4.65: 4.65 renamed the federated credential's
# parent_id to user_assigned_identity_id, and 4.42 brought Key Vault's
# rbac_authorization_enabled; both are used here. 5.x changes defaults
# (no automatic resource provider registration), so stay on 4.x until
# someone reads its upgrade guide. azapi only creates the Table Storage
# table (see storage.tf); time only waits for Key Vault RBAC to propagate;
# azuread registers the API app whose tokens writes need (auth.tf; 3.x names
# the application id client_id).
terraform {
  required_version = ">= 1.6.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.65"
    }
    azapi = {
      source  = "Azure/azapi"
      version = "~> 2.4"
    }
    time = {
      source  = "hashicorp/time"
      version = "~> 0.12"
    }
    azuread = {
      source  = "hashicorp/azuread"
      version = "~> 3.0"
    }
  }
}
