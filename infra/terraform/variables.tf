variable "resource_group_name" {
  type        = string
  description = "Existing resource group to deploy into (the Bicep template deploys into the target resource group)."
}

variable "name" {
  type        = string
  description = "Base name of every resource: 3-16 lowercase letters and digits, unique enough for global names (storage, Service Bus, Cosmos DB, Key Vault, registry). Empty: \"ion\" and a hash of the resource group id."
  default     = ""
  validation {
    condition     = var.name == "" || can(regex("^[a-z][a-z0-9]{2,15}$", var.name))
    error_message = "name must be 3-16 lowercase letters and digits, starting with a letter."
  }
}

variable "location" {
  type        = string
  description = "Azure region of every resource; empty: the resource group's region."
  default     = ""
}

variable "tags" {
  type        = map(string)
  description = "Tags put on every resource."
  default     = {}
}

variable "topics" {
  type        = list(string)
  description = "Service Bus topics: every event type the manifest subscribes to or publishes (ion infra params writes them)."
}

variable "subscriptions" {
  type = list(object({
    name  = string
    topic = string
  }))
  description = "Service Bus subscriptions, one per module: name = module name, topic = the event type it subscribes to (ion infra params writes them)."
  validation {
    condition     = length(distinct([for s in var.subscriptions : s.name])) == length(var.subscriptions)
    error_message = "Each module (subscription name) may appear once."
  }
}

variable "service_bus_sku" {
  type        = string
  description = "Service Bus tier: Standard or Premium (topics need at least Standard)."
  default     = "Standard"
  validation {
    condition     = contains(["Standard", "Premium"], var.service_bus_sku)
    error_message = "service_bus_sku must be Standard or Premium."
  }
}

variable "max_delivery_count" {
  type        = number
  description = "Deliveries of one message before Service Bus dead-letters it; also the dispatcher's ION_MAX_DELIVERY_COUNT."
  default     = 5
}

variable "lock_duration" {
  type        = string
  description = "Peek-lock duration of the subscriptions, ISO 8601 (dispatch returns in seconds)."
  default     = "PT1M"
}

variable "message_time_to_live" {
  type        = string
  description = "Time to live of an event on the bus, ISO 8601; expired events are dead-lettered."
  default     = "P14D"
}

variable "duplicate_detection_window" {
  type        = string
  description = "Duplicate detection window, ISO 8601: a republished event id within it is dropped."
  default     = "PT1H"
}

variable "metadata_store" {
  type        = string
  description = "Metadata store: cosmos (Azure Cosmos DB for NoSQL, identity-based) or mongodb (Azure Cosmos DB for MongoDB, connection string in Key Vault)."
  default     = "cosmos"
  validation {
    condition     = contains(["cosmos", "mongodb"], var.metadata_store)
    error_message = "metadata_store must be cosmos or mongodb."
  }
}

variable "metadata_database" {
  type        = string
  description = "Database name of the metadata store (COSMOS_DATABASE or MONGODB_DATABASE)."
  default     = "ion"
}

variable "cosmos_containers" {
  type = list(object({
    name          = string
    partition_key = string
  }))
  description = "NoSQL containers of Ion's metadata store and their partition key paths (shared/metadata/cosmos.py CONTAINERS); created here because data-plane roles cannot create them."
  default = [
    { name = "event_contexts", partition_key = "/id" },
    { name = "jobs", partition_key = "/id" },
    { name = "insights", partition_key = "/correlation_id" },
  ]
}

variable "blob_container" {
  type        = string
  description = "Blob container for Ion's files (ION_BLOB_CONTAINER)."
  default     = "ion"
}

variable "package_blob_name" {
  type        = string
  description = "Blob (in the \"deployments\" container) holding the Function App package; the app runs from it."
  default     = "ion-functions.zip"
}

variable "reconcile_schedule" {
  type        = string
  description = "NCRONTAB schedule of the reconciler timer function (ION_RECONCILE_SCHEDULE)."
  default     = "*/30 * * * * *"
}

variable "sidecar_image" {
  type        = string
  description = "Image of the sidecar that runs beside every module (ION_SIDECAR_IMAGE). Empty: ion-sidecar:latest in the deployed registry."
  default     = ""
}

variable "minimum_instances" {
  type        = number
  description = "Always-ready instances of the Elastic Premium plan."
  default     = 1
}

variable "maximum_instances" {
  type        = number
  description = "Most instances the Elastic Premium plan scales out to with the subscriptions' queue depth."
  default     = 20
}

variable "registry_sku" {
  type        = string
  description = "Container registry tier: Basic, Standard or Premium (Premium adds private link, geo-replication and retention)."
  default     = "Standard"
}

variable "enable_kubernetes" {
  type        = bool
  description = "Deploy an AKS cluster with a namespace for the kubernetes executor."
  default     = false
}

variable "kubernetes_namespace" {
  type        = string
  description = "Kubernetes namespace of Ion's jobs."
  default     = "ion"
}

variable "kubernetes_service_account" {
  type        = string
  description = "Kubernetes service account of Ion's jobs, federated with the jobs identity (workload identity)."
  default     = "ion-jobs"
}

variable "kubernetes_vm_size" {
  type        = string
  description = "VM size of the AKS nodes that run jobs."
  default     = "Standard_D4ds_v5"
}

variable "kubernetes_max_nodes" {
  type        = number
  description = "Most AKS nodes the job pool autoscales to."
  default     = 10
}

variable "enable_batch" {
  type        = bool
  description = "Deploy an Azure Batch account and pool for the azurebatch executor."
  default     = false
}

variable "batch_vm_size" {
  type        = string
  description = "VM size of the Batch pool when no module needs a GPU."
  default     = "Standard_D4ds_v5"
}

variable "batch_max_nodes" {
  type        = number
  description = "Most dedicated nodes of the Batch pool (the autoscale formula follows pending tasks)."
  default     = 10
}

variable "batch_gpu_vm_size" {
  type        = string
  description = "GPU VM size of the Batch pool, used instead of batch_vm_size when a module needs a GPU (ion infra params sets it); empty: a CPU pool."
  default     = ""
}

variable "enable_aci" {
  type        = bool
  description = "Give the dispatcher the right to run Azure Container Instances groups in this resource group (aci executor)."
  default     = false
}
