# Device state (Table Storage) and the Event Hubs checkpoints (blobs), both
# reached by the app and daprd with Workload Identity, never with a key.

resource "azurerm_storage_account" "main" {
  name                     = local.flat
  resource_group_name      = azurerm_resource_group.main.name
  location                 = azurerm_resource_group.main.location
  account_kind             = "StorageV2"
  account_tier             = "Standard"
  account_replication_type = var.storage_replication

  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false

  # Entra ID only: no account key to leak or rotate. The portal then signs
  # in with Entra ID as well.
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true

  tags = local.tags
}

# storage_account_id makes azurerm create the container through Resource
# Manager, which works with Shared Key disabled.
resource "azurerm_storage_container" "checkpoints" {
  name                  = var.checkpoint_container
  storage_account_id    = azurerm_storage_account.main.id
  container_access_type = "private"
}

# azapi because azurerm_storage_table reads and writes table ACLs with the
# Shared Key whatever the provider settings, so it fails on an account with
# Shared Key disabled (terraform-provider-azurerm #32249). Resource Manager
# creates the table without touching the data plane. The statestore
# component sets skipCreateTable, so the table must exist before the app.
resource "azapi_resource" "table" {
  type      = "Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01"
  name      = var.table_name
  parent_id = "${azurerm_storage_account.main.id}/tableServices/default"
}
