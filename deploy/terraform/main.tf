# Enviromon on Azure: IoT Hub → AKS (Dapr) → Table Storage, with live
# updates through Azure SignalR Service. One resource group holds it all;
# `terraform destroy` removes it again.

provider "azurerm" {
  features {
    storage {
      # Manage the storage account through Azure Resource Manager only. With
      # Shared Key disabled, the provider's data-plane reads of queue and
      # static-website properties would need Storage data roles for whoever
      # runs apply; this app uses neither.
      data_plane_available = false
    }
  }

  # The storage account has Shared Key access disabled (the app and Dapr
  # reach tables and blobs with Entra ID), so whatever the provider still
  # does on the Blob or Queue data plane must use Entra ID as well, or it
  # fails with 403 KeyBasedAuthenticationNotPermitted. The container below
  # goes through Resource Manager (storage_account_id) and the table through
  # azapi, because azurerm_storage_table always reads table ACLs with the
  # Shared Key, even with this flag (terraform-provider-azurerm #32249).
  storage_use_azuread = true

  # The Dapr cluster extension lives in Microsoft.KubernetesConfiguration,
  # which azurerm 4.x does not register by itself.
  resource_providers_to_register = ["Microsoft.KubernetesConfiguration"]
}

provider "azapi" {}

# The tenant of the Azure CLI's login, as for azurerm.
provider "azuread" {}

data "azurerm_client_config" "current" {}

locals {
  # A short suffix makes the globally unique names (IoT Hub, storage,
  # registry, Key Vault, SignalR) unique per subscription, yet stable from
  # one apply to the next so that names never drift.
  suffix = var.suffix != "" ? var.suffix : substr(sha1("${data.azurerm_client_config.current.subscription_id}/${var.name}"), 0, 6)

  # base names resources that allow hyphens; flat those that allow only
  # letters and digits (storage account, container registry).
  base = "${var.name}-${local.suffix}"
  flat = "${var.name}${local.suffix}"

  # Regions in the form Azure DNS uses (westeurope, not "West Europe").
  region = lower(replace(var.location, " ", ""))

  # Without a domain of your own the dashboard is reached at the Azure DNS
  # label of the ingress controller's public IP (README, "Deploy to Azure").
  ingress_host = var.ingress_host != "" ? var.ingress_host : "${local.base}.${local.region}.cloudapp.azure.com"

  # The Kubernetes side of Workload Identity: deploy/base names the
  # namespace and ServiceAccount "enviromon"; the federated credential must
  # name exactly these.
  k8s_namespace       = "enviromon"
  k8s_service_account = "enviromon"

  # Kustomize's image name in deploy/base; the aks overlay replaces it with
  # IMAGE from azure.env.
  image = "${azurerm_container_registry.acr.login_server}/enviromon:${var.image_tag}"

  tags = merge({
    app        = "enviromon"
    managed-by = "terraform"
  }, var.tags)
}

resource "azurerm_resource_group" "main" {
  name     = local.base
  location = var.location
  tags     = local.tags
}
