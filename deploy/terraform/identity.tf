# The app's identity: pods of the ServiceAccount enviromon/enviromon get its
# tokens through Workload Identity; daprd uses them for Table Storage, the
# checkpoint blobs and SignalR (IoT Hub's built-in endpoint takes only SAS).

resource "azurerm_user_assigned_identity" "app" {
  name                = local.base
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tags                = local.tags
}

resource "azurerm_federated_identity_credential" "app" {
  name                      = local.k8s_service_account
  user_assigned_identity_id = azurerm_user_assigned_identity.app.id
  issuer                    = azurerm_kubernetes_cluster.aks.oidc_issuer_url
  subject                   = "system:serviceaccount:${local.k8s_namespace}:${local.k8s_service_account}"
  audience                  = ["api://AzureADTokenExchange"]
}

locals {
  # Data-plane roles only: the app never manages these resources.
  app_roles = {
    # statestore: entities of the enviromon table.
    table = { role = "Storage Table Data Contributor", scope = azurerm_storage_account.main.id }
    # telemetry: checkpoints and ownership blobs (the binding also creates
    # the container if it is missing).
    blob = { role = "Storage Blob Data Contributor", scope = azurerm_storage_account.main.id }
    # signalr: REST publishing and client tokens (:generateToken).
    signalr = { role = "SignalR REST API Owner", scope = azurerm_signalr_service.main.id }
  }
}

resource "azurerm_role_assignment" "app" {
  for_each = local.app_roles

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}
