# The ingress certificate, and optionally the IoT Hub connection string, in
# a Key Vault with RBAC authorization (no access policies).

resource "azurerm_key_vault" "kv" {
  name                       = local.base
  resource_group_name        = azurerm_resource_group.main.name
  location                   = azurerm_resource_group.main.location
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  rbac_authorization_enabled = true

  # Short soft delete and no purge protection, so that destroy and apply
  # can recreate the vault under its stable name. Turn purge protection on
  # once the vault holds anything you could not regenerate.
  soft_delete_retention_days = 7
  purge_protection_enabled   = false

  tags = local.tags
}

# Whoever runs Terraform writes the certificate and the secret.
resource "azurerm_role_assignment" "deployer_kv" {
  scope                = azurerm_key_vault.kv.id
  role_definition_name = "Key Vault Administrator"
  principal_id         = data.azurerm_client_config.current.object_id
}

# A new role assignment takes a while to reach Key Vault's data plane; the
# first write would otherwise fail with 403 Forbidden.
resource "time_sleep" "kv_rbac" {
  create_duration = "90s"
  depends_on      = [azurerm_role_assignment.deployer_kv]
}

# The ingress host's certificate. By default Key Vault issues a self-signed
# one (browsers warn) and renews it before it expires. For a real one, set
# tls_pfx_file (and tls_pfx_password): Terraform imports that PFX instead.
# Importing with `az keyvault certificate import` behind Terraform's back
# would be undone by the next apply, which restores the generated policy.
resource "azurerm_key_vault_certificate" "ingress" {
  name         = "enviromon-tls"
  key_vault_id = azurerm_key_vault.kv.id

  dynamic "certificate" {
    for_each = var.tls_pfx_file == "" ? [] : [var.tls_pfx_file]
    content {
      contents = filebase64(certificate.value)
      password = var.tls_pfx_password
    }
  }

  dynamic "certificate_policy" {
    for_each = var.tls_pfx_file == "" ? [local.ingress_host] : []
    iterator = host
    content {
      issuer_parameters {
        name = "Self"
      }

      key_properties {
        exportable = true
        key_type   = "RSA"
        key_size   = 2048
        reuse_key  = false
      }

      lifetime_action {
        action {
          action_type = "AutoRenew"
        }
        trigger {
          days_before_expiry = 30
        }
      }

      # The add-on reads the certificate with its key as a PKCS#12 secret.
      secret_properties {
        content_type = "application/x-pkcs12"
      }

      x509_certificate_properties {
        subject            = "CN=${host.value}"
        validity_in_months = 12
        key_usage          = ["digitalSignature", "keyEncipherment"]
        # Server authentication.
        extended_key_usage = ["1.3.6.1.5.5.7.3.1"]

        subject_alternative_names {
          dns_names = [host.value]
        }
      }
    }
  }

  tags       = local.tags
  depends_on = [time_sleep.kv_rbac]
}

# The application routing add-on reads the certificate, key included, for
# the Ingress annotation kubernetes.azure.com/tls-cert-keyvault-uri. This is
# the role `az aks approuting update --attach-kv` would assign.
resource "azurerm_role_assignment" "approuting_kv" {
  scope                = azurerm_key_vault.kv.id
  role_definition_name = "Key Vault Certificate User"
  principal_id         = azurerm_kubernetes_cluster.aks.web_app_routing[0].web_app_routing_identity[0].object_id
  principal_type       = "ServicePrincipal"
}

# With a DNS zone, the add-on's external-dns writes the ingress record
# (what `az aks approuting zone add --attach-zones` would assign).
resource "azurerm_role_assignment" "approuting_dns" {
  count = var.dns_zone_id == "" ? 0 : 1

  scope                = var.dns_zone_id
  role_definition_name = "DNS Zone Contributor"
  principal_id         = azurerm_kubernetes_cluster.aks.web_app_routing[0].web_app_routing_identity[0].object_id
  principal_type       = "ServicePrincipal"
}

# Optional: the IoT Hub connection string as a Key Vault secret, for the
# Dapr secret store in components/azure/keyvault instead of the Kubernetes
# secret enviromon-iothub.
resource "azurerm_key_vault_secret" "iothub" {
  count = var.enable_key_vault_secrets ? 1 : 0

  name         = "enviromon-iothub"
  value        = local.iothub_events_connection_string
  key_vault_id = azurerm_key_vault.kv.id
  content_type = "Event Hubs connection string"
  tags         = local.tags

  depends_on = [time_sleep.kv_rbac]
}

# The app may read that one secret, nothing else in the vault.
resource "azurerm_role_assignment" "app_kv" {
  count = var.enable_key_vault_secrets ? 1 : 0

  scope                = azurerm_key_vault_secret.iothub[0].resource_versionless_id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}
