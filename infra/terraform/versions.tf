terraform {
  required_version = ">= 1.6"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
    # Only for AKS managed namespaces, which azurerm does not cover yet.
    azapi = {
      source  = "Azure/azapi"
      version = "~> 2.0"
    }
  }
}

provider "azurerm" {
  features {}
  # Shared-key access is off on the storage account: the provider reaches blobs with Entra ID too.
  storage_use_azuread = true
}

provider "azapi" {}
