# What the rest of the deployment needs (names fixed by the contract in the
# README). aks_overlay_env is deploy/overlays/aks/azure.env:
#   terraform -chdir=deploy/terraform output -raw aks_overlay_env > deploy/overlays/aks/azure.env

output "resource_group_name" {
  value = azurerm_resource_group.main.name
}

output "aks_cluster_name" {
  value = azurerm_kubernetes_cluster.aks.name
}

output "azure_client_id" {
  description = "Client id of the app identity (ServiceAccount annotation azure.workload.identity/client-id)."
  value       = azurerm_user_assigned_identity.app.client_id
}

output "storage_account_name" {
  value = azurerm_storage_account.main.name
}

output "signalr_endpoint" {
  value = "https://${azurerm_signalr_service.main.hostname}"
}

output "image" {
  value = local.image
}

output "ingress_host" {
  value = local.ingress_host
}

output "tls_cert_keyvault_uri" {
  description = "Versionless, so the add-on follows renewals."
  value       = azurerm_key_vault_certificate.ingress.versionless_id
}

output "iothub_name" {
  value = azurerm_iothub.hub.name
}

output "iothub_hostname" {
  value = azurerm_iothub.hub.hostname
}

output "iothub_events_connection_string" {
  description = "Event Hubs-compatible connection string of the built-in endpoint, with EntityPath (Kubernetes secret enviromon-iothub)."
  value       = local.iothub_events_connection_string
  sensitive   = true
}

output "acr_login_server" {
  value = azurerm_container_registry.acr.login_server
}

output "aks_overlay_env" {
  description = "deploy/overlays/aks/azure.env: the overlay's only deployment-specific input."
  value       = <<-EOT
    AZURE_CLIENT_ID=${azurerm_user_assigned_identity.app.client_id}
    STORAGE_ACCOUNT_NAME=${azurerm_storage_account.main.name}
    SIGNALR_ENDPOINT=https://${azurerm_signalr_service.main.hostname}
    IMAGE=${local.image}
    INGRESS_HOST=${local.ingress_host}
    TLS_CERT_KEYVAULT_URI=${azurerm_key_vault_certificate.ingress.versionless_id}
    AUTH_ISSUER=${local.auth_issuer}
    AUTH_AUDIENCE=${local.auth_audience}
  EOT
}

output "auth_issuer" {
  description = "Issuer of the access tokens writes need (ENVIROMON_AUTH_ISSUER)."
  value       = local.auth_issuer
}

output "auth_audience" {
  description = "Client id of the API app registration: the aud of those tokens (ENVIROMON_AUTH_AUDIENCE)."
  value       = local.auth_audience
}
