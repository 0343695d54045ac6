# Devices send telemetry to IoT Hub; the pipeline reads it from the hub's
# built-in Event Hubs-compatible endpoint ("events").

resource "azurerm_iothub" "hub" {
  name                = local.base
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location

  sku {
    name     = "S1"
    capacity = var.iothub_units
  }

  # Partitions are fixed once the hub exists: changing this replaces the
  # hub (and every device identity in it).
  event_hub_partition_count   = var.partition_count
  event_hub_retention_in_days = var.iothub_retention_days

  # Devices authenticate with SAS keys, and the built-in endpoint accepts
  # only SAS (no Entra ID), so local authentication must stay on.
  local_authentication_enabled = true
  min_tls_version              = "1.2"

  # Every device message goes to the built-in endpoint; no other routes.
  fallback_route {
    source         = "DeviceMessages"
    condition      = "true"
    endpoint_names = ["events"]
    enabled        = true
  }

  tags = local.tags
}

# A consumer group of our own: readers of one group steal partitions from
# each other, and $Default is what `az iot hub monitor-events` uses.
resource "azurerm_iothub_consumer_group" "app" {
  name                   = var.consumer_group
  iothub_name            = azurerm_iothub.hub.name
  eventhub_endpoint_name = "events"
  resource_group_name    = azurerm_resource_group.main.name
}

locals {
  # The built-in "service" policy may read the events endpoint. Its key
  # goes into the Kubernetes secret enviromon-iothub (README), never into
  # git.
  iothub_service_key = one([for p in azurerm_iothub.hub.shared_access_policy : p.primary_key if p.key_name == "service"])

  # event_hub_events_endpoint is "sb://<namespace>.servicebus.windows.net/";
  # the binding needs EntityPath to know which event hub to read.
  iothub_events_connection_string = join(";", [
    "Endpoint=${azurerm_iothub.hub.event_hub_events_endpoint}",
    "SharedAccessKeyName=service",
    "SharedAccessKey=${local.iothub_service_key}",
    "EntityPath=${azurerm_iothub.hub.event_hub_events_path}",
  ])
}
