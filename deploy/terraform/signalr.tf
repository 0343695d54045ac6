# Live updates to the dashboard. Serverless mode: there is no hub server;
# the app publishes through the REST API and hands browsers client tokens
# from :generateToken, both with Workload Identity.

resource "azurerm_signalr_service" "main" {
  name                = local.base
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location

  sku {
    name     = "Standard_S1"
    capacity = var.signalr_units
  }

  service_mode = "Serverless"

  # Entra ID only: the access keys would let anyone holding them mint client
  # tokens and publish. The app's identity has SignalR REST API Owner.
  local_auth_enabled = false
  aad_auth_enabled   = true

  # Browsers connect to the service directly after negotiating with the
  # app; only the dashboard's origin may.
  cors {
    allowed_origins = ["https://${local.ingress_host}"]
  }

  # In Serverless mode a hub is not a resource: it exists once the REST API
  # or a client names it. The tag records which hub the signalr component
  # uses, for whoever opens Live Trace.
  tags = merge(local.tags, { signalr-hub = var.signalr_hub })
}
