# The cluster that runs the app, its Dapr sidecar and the ingress.

resource "azurerm_kubernetes_cluster" "aks" {
  name                = local.base
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  dns_prefix          = local.base
  kubernetes_version  = var.kubernetes_version

  # Standard: the API server has an SLA; Free has none.
  sku_tier                  = "Standard"
  automatic_upgrade_channel = "patch"
  node_os_upgrade_channel   = "NodeImage"

  # Workload Identity: the OIDC issuer signs ServiceAccount tokens that
  # Entra ID exchanges for the app identity's tokens (identity.tf).
  oidc_issuer_enabled       = true
  workload_identity_enabled = true

  default_node_pool {
    name                        = "system"
    temporary_name_for_rotation = "rotation"
    vm_size                     = var.node_vm_size
    os_sku                      = "AzureLinux"

    # One pool across the zones, scaled by the cluster autoscaler: losing a
    # zone leaves the app's other replicas (PodDisruptionBudget, topology
    # spread in deploy/base) and two of three Dapr control-plane replicas.
    zones                = var.zones
    auto_scaling_enabled = true
    min_count            = var.node_min_count
    max_count            = var.node_max_count

    upgrade_settings {
      max_surge = "33%"
    }

    tags = local.tags
  }

  identity {
    type = "SystemAssigned"
  }

  # Azure CNI Overlay powered by Cilium: pods get addresses from a private
  # overlay range (no VNet to size), and Cilium's eBPF dataplane enforces the
  # NetworkPolicy objects in deploy/base without a separate policy engine.
  # Azure Network Policy Manager retires on Linux in September 2028, and
  # Calico would be one more component to upgrade. Cilium cannot select node
  # or pod IPs with ipBlock: policies must use pod and namespace selectors.
  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_data_plane  = "cilium"
    network_policy      = "cilium"
    load_balancer_sku   = "standard"
  }

  # The application routing add-on (managed NGINX, ingress class
  # webapprouting.kubernetes.azure.com). AnnotationControlled lets the README
  # put an Azure DNS label on the default controller's public IP. With a DNS
  # zone, its external-dns writes the ingress host's record there.
  web_app_routing {
    dns_zone_ids             = var.dns_zone_id == "" ? [] : [var.dns_zone_id]
    default_nginx_controller = "AnnotationControlled"
  }

  # The Key Vault provider of the Secrets Store CSI driver: the add-on uses
  # it to copy the ingress certificate (annotation
  # kubernetes.azure.com/tls-cert-keyvault-uri) into a TLS secret, and with
  # rotation on it follows renewals of the certificate.
  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }

  tags = local.tags
}

# Dapr through the AKS extension, pinned: with a version set, azurerm sends
# autoUpgradeMinorVersion = false, so Dapr never changes under the app.
# 1.16.0 is the release the app is built and tested against (daprd 1.16.0).
# Microsoft supports only the latest patch of each minor, so move to the
# newest 1.16.x the extension lists once it has passed the tests:
#   az k8s-extension extension-types list-versions-by-location \
#     --location <region> --extension-type microsoft.dapr
resource "azurerm_kubernetes_cluster_extension" "dapr" {
  name           = "dapr"
  cluster_id     = azurerm_kubernetes_cluster.aks.id
  extension_type = "Microsoft.Dapr"
  release_train  = "Stable"
  version        = var.dapr_version

  configuration_settings = {
    # Three replicas of the operator, injector, sentry and placement.
    "global.ha.enabled" = "true"
    # As in Microsoft's Bicep example of the extension on AKS.
    "global.clusterType" = "managedclusters"
  }
}
