// Package deploy holds no code: its tests check, without a cluster or an
// Azure subscription, what the repository ships for production: the
// Kubernetes manifests under deploy/, the Dapr components, resiliency and
// configuration under components/, the Dockerfile and the Terraform.
package deploy
