# Inputs. Defaults give a working deployment; the names marked "fixed"
# must equal what components/azure/*.yaml expect (app/deploy checks them).

variable "name" {
  description = "Base of every resource name (lowercase letters and digits)."
  type        = string
  default     = "enviromon"

  validation {
    # Storage accounts take 24 lowercase letters and digits, Key Vaults 24
    # characters: 12 + a 6-character suffix (+ hyphen) fits both.
    condition     = can(regex("^[a-z][a-z0-9]{2,11}$", var.name))
    error_message = "name must be 3-12 lowercase letters and digits, starting with a letter."
  }
}

variable "suffix" {
  description = "Suffix that makes global names unique; empty derives one from the subscription id."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[a-z0-9]{0,6}$", var.suffix))
    error_message = "suffix must be at most 6 lowercase letters and digits."
  }
}

variable "location" {
  description = "Azure region; it needs availability zones, IoT Hub and SignalR Service."
  type        = string
  default     = "westeurope"
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# --- IoT Hub ---------------------------------------------------------------

variable "iothub_units" {
  description = "IoT Hub S1 units (each: 400,000 messages/day)."
  type        = number
  default     = 1
}

variable "partition_count" {
  description = "Partitions of the built-in Event Hubs endpoint. Fixed at creation; it caps the consumer replicas (HPA maxReplicas)."
  type        = number
  default     = 4

  validation {
    condition     = var.partition_count >= 2 && var.partition_count <= 128
    error_message = "partition_count must be between 2 and 128."
  }
}

variable "iothub_retention_days" {
  description = "How long the built-in endpoint keeps events the pipeline has not read yet (S1: at most 7)."
  type        = number
  default     = 7
}

variable "consumer_group" {
  description = "Fixed: the consumer group the telemetry component reads with (consumerID)."
  type        = string
  default     = "enviromon"
}

# --- Storage ---------------------------------------------------------------

variable "storage_replication" {
  description = "Storage redundancy; ZRS survives the loss of a zone, like the cluster."
  type        = string
  default     = "ZRS"
}

variable "table_name" {
  description = "Fixed: the statestore component's tableName."
  type        = string
  default     = "enviromon"
}

variable "checkpoint_container" {
  description = "Fixed: the telemetry component's storageContainerName (Event Hubs checkpoints)."
  type        = string
  default     = "checkpoints"
}

# --- SignalR ---------------------------------------------------------------

variable "signalr_units" {
  description = "SignalR Standard units (each: 1,000 concurrent connections, 1,000,000 messages/day)."
  type        = number
  default     = 1
}

variable "signalr_hub" {
  description = "Fixed: the signalr component's hub."
  type        = string
  default     = "enviromon"
}

# --- AKS -------------------------------------------------------------------

variable "kubernetes_version" {
  description = "AKS version (a minor like \"1.33\" picks its latest patch); null takes the default."
  type        = string
  default     = null
}

variable "node_vm_size" {
  description = "VM size of the node pool."
  type        = string
  default     = "Standard_D4ds_v5"
}

variable "zones" {
  description = "Availability zones the node pool spreads over."
  type        = list(string)
  default     = ["1", "2", "3"]
}

variable "node_min_count" {
  description = "Fewest nodes: one per zone keeps the Dapr control plane (3 replicas in HA mode) spread."
  type        = number
  default     = 3
}

variable "node_max_count" {
  description = "Most nodes the cluster autoscaler may add."
  type        = number
  default     = 6
}

variable "dapr_version" {
  description = "Dapr extension version. The app is built and tested against daprd 1.16.0."
  type        = string
  default     = "1.16.0"
}

# --- Images and ingress ----------------------------------------------------

variable "acr_sku" {
  description = "Container registry tier (Basic holds the one image comfortably)."
  type        = string
  default     = "Basic"
}

variable "image_tag" {
  description = "Tag of the enviromon image built into the registry (az acr build -t enviromon:<tag>)."
  type        = string
  default     = "latest"
}

variable "ingress_host" {
  description = "The dashboard's host name; empty uses <name>-<suffix>.<region>.cloudapp.azure.com."
  type        = string
  default     = ""
}

variable "dns_zone_id" {
  description = "Optional Azure DNS zone the application routing add-on writes the ingress host into."
  type        = string
  default     = ""
}

variable "tls_pfx_file" {
  description = "Optional PFX of a real certificate for the ingress host; empty generates a self-signed one."
  type        = string
  default     = ""
}

variable "tls_pfx_password" {
  description = "Password of tls_pfx_file, if it has one."
  type        = string
  default     = ""
  sensitive   = true
}

variable "enable_key_vault_secrets" {
  description = "Also store the IoT Hub connection string in Key Vault as enviromon-iothub (components/azure/keyvault)."
  type        = bool
  default     = false
}
