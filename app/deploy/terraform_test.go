package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	componentsapi "github.com/dapr/dapr/pkg/apis/components/v1alpha1"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// The Terraform in deploy/terraform cannot be planned here (no providers,
// no Azure), so these tests read it as HCL (tfconfig_test.go): every file
// parses, every reference names something declared, and the names the Dapr
// components in components/azure rely on are the ones Terraform creates.

const tfDir = "deploy/terraform"

// tfOutputs are the outputs the README and the aks overlay use.
var tfOutputs = []string{
	"resource_group_name", "aks_cluster_name", "azure_client_id", "storage_account_name",
	"signalr_endpoint", "image", "ingress_host", "tls_cert_keyvault_uri", "iothub_name",
	"iothub_hostname", "iothub_events_connection_string", "acr_login_server", "aks_overlay_env",
	"auth_issuer", "auth_audience",
}

func TestTerraformParses(t *testing.T) {
	names, err := filepath.Glob(filepath.Join(repoRoot(t), tfDir, "*.tf"))
	require.NoError(t, err)
	require.NotEmpty(t, names, "no Terraform under %s", tfDir)
	for _, name := range names {
		t.Run(filepath.Base(name), func(t *testing.T) {
			_, diags := hclparse.NewParser().ParseHCLFile(name)
			assert.Empty(t, diags, "%s:\n%s", name, diags.Error())
		})
	}
}

func TestTerraformReferences(t *testing.T) {
	c := loadTerraform(t, filepath.Join(repoRoot(t), tfDir))
	bad, unused := c.unresolved()
	assert.Empty(t, bad, "references to nothing declared")
	assert.Empty(t, unused, "variables nothing uses")
	for _, name := range sortedKeys(c.outputs) {
		t.Run("output "+name, func(t *testing.T) {
			b := c.outputs[name]
			_, ok := b.Body.Attributes["value"]
			require.True(t, ok, "output %s has no value", name)
			assert.Empty(t, c.problems(b, map[string]bool{}), "output %s", name)
		})
	}
}

func TestTerraformOutputs(t *testing.T) {
	root := repoRoot(t)
	c := loadTerraform(t, filepath.Join(root, tfDir))
	for _, name := range tfOutputs {
		t.Run(name, func(t *testing.T) {
			assert.Contains(t, c.outputs, name, "output %s is missing: the README and the aks overlay read it", name)
		})
	}
	t.Run("connection string is sensitive", func(t *testing.T) {
		b := c.outputs["iothub_events_connection_string"]
		require.NotNil(t, b)
		a, ok := b.Body.Attributes["sensitive"]
		require.True(t, ok, "output iothub_events_connection_string must be sensitive: it holds the hub's service key")
		v, _ := a.Expr.Value(nil)
		assert.True(t, v.True(), "output iothub_events_connection_string must be sensitive")
	})
	t.Run("aks_overlay_env has the keys of azure.env", func(t *testing.T) {
		env := filepath.Join(root, "deploy/overlays/aks/azure.env")
		if _, err := os.Stat(env); err != nil {
			t.Fatalf("%s is missing (%v): the aks overlay reads it, and the Terraform output aks_overlay_env must write exactly its keys", env, err)
		}
		var want []string
		for k := range readEnv(t, env) {
			want = append(want, k)
		}
		got, err := c.outputEnvKeys("aks_overlay_env")
		require.NoError(t, err)
		assert.ElementsMatch(t, want, got, "aks_overlay_env must write exactly the keys of %s", env)
		seen := map[string]bool{}
		for _, k := range got {
			assert.False(t, seen[k], "aks_overlay_env writes %s twice", k)
			seen[k] = true
		}
	})
}

// TestTerraformFixedNames: the components in components/azure name a
// consumer group, a blob container, a table and a SignalR hub that nothing
// in Kubernetes creates; Terraform must create exactly those.
func TestTerraformFixedNames(t *testing.T) {
	root := repoRoot(t)
	c := loadTerraform(t, filepath.Join(root, tfDir))
	ctx := c.evalContext()
	telemetry := azureComponent(t, root, "telemetry.yaml")
	statestore := azureComponent(t, root, "statestore.yaml")
	signalr := azureComponent(t, root, "signalr.yaml")

	for _, tc := range []struct {
		name, variable, want string
		blocks               []*hclsyntax.Block
	}{
		{"consumer group", "consumer_group", componentValue(t, telemetry, "consumerID"), c.resourcesOf("azurerm_iothub_consumer_group")},
		{"checkpoint container", "checkpoint_container", componentValue(t, telemetry, "storageContainerName"), c.resourcesOf("azurerm_storage_container")},
		{"table", "table_name", componentValue(t, statestore, "tableName"), c.tables(ctx)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def, err := c.varDefault(tc.variable)
			require.NoError(t, err)
			assert.Equal(t, tc.want, def, "default of variable %s", tc.variable)
			require.NotEmpty(t, tc.blocks, "no resource creates the %s %q", tc.name, tc.want)
			for _, b := range tc.blocks {
				got, err := str(ctx, b, "name")
				require.NoError(t, err)
				assert.Equal(t, tc.want, got, "%s %s.%s", tc.name, b.Labels[0], b.Labels[1])
			}
		})
	}
	t.Run("consumer group on the built-in endpoint", func(t *testing.T) {
		for _, b := range c.resourcesOf("azurerm_iothub_consumer_group") {
			got, err := str(ctx, b, "eventhub_endpoint_name")
			require.NoError(t, err)
			assert.Equal(t, "events", got, "the telemetry binding reads the built-in endpoint")
		}
	})
	t.Run("signalr hub", func(t *testing.T) {
		want := componentValue(t, signalr, "hub")
		def, err := c.varDefault("signalr_hub")
		require.NoError(t, err)
		assert.Equal(t, want, def, "default of variable signalr_hub")
		services := c.resourcesOf("azurerm_signalr_service")
		require.Len(t, services, 1)
		assert.True(t, usesVar(services[0], "signalr_hub"), "azurerm_signalr_service.%s does not use var.signalr_hub", services[0].Labels[1])
	})
}

// tables are the resources that create a Table Storage table.
func (c *tfConfig) tables(ctx *hcl.EvalContext) []*hclsyntax.Block {
	out := c.resourcesOf("azurerm_storage_table")
	for _, b := range c.resourcesOf("azapi_resource") {
		if typ, err := str(ctx, b, "type"); err == nil && strings.HasPrefix(typ, "Microsoft.Storage/storageAccounts/tableServices/tables@") {
			out = append(out, b)
		}
	}
	return out
}

func TestTerraformWorkloadIdentity(t *testing.T) {
	c := loadTerraform(t, filepath.Join(repoRoot(t), tfDir))
	ctx := c.evalContext()
	creds := c.resourcesOf("azurerm_federated_identity_credential")
	require.Len(t, creds, 1, "want one federated credential, for the app's ServiceAccount")
	subject, err := str(ctx, creds[0], "subject")
	require.NoError(t, err)
	parts := strings.Split(subject, ":")
	require.Len(t, parts, 4, "subject %q is not system:serviceaccount:<namespace>:<name>", subject)
	assert.Equal(t, "system:serviceaccount", parts[0]+":"+parts[1], "subject %q", subject)
	assert.Equal(t, "enviromon", parts[2], "namespace in subject %q", subject)
	assert.Equal(t, "enviromon", parts[3], "ServiceAccount in subject %q", subject)
	audience, err := strs(ctx, creds[0], "audience")
	require.NoError(t, err)
	assert.Equal(t, []string{"api://AzureADTokenExchange"}, audience)
}

func TestTerraformDaprExtension(t *testing.T) {
	c := loadTerraform(t, filepath.Join(repoRoot(t), tfDir))
	ctx := c.evalContext()
	var dapr []*hclsyntax.Block
	for _, b := range c.resourcesOf("azurerm_kubernetes_cluster_extension") {
		if typ, err := str(ctx, b, "extension_type"); err == nil && strings.EqualFold(typ, "Microsoft.Dapr") {
			dapr = append(dapr, b)
		}
	}
	require.Len(t, dapr, 1, "want one Microsoft.Dapr cluster extension")
	version, err := str(ctx, dapr[0], "version")
	require.NoError(t, err, "the Dapr version must be pinned: without one the extension upgrades minor versions by itself")
	assert.True(t, strings.HasPrefix(version, "1.16."), "Dapr extension version %q: the app is built and tested against daprd 1.16", version)
	train, err := str(ctx, dapr[0], "release_train")
	require.NoError(t, err)
	assert.Equal(t, "Stable", train)
	a, ok := dapr[0].Body.Attributes["configuration_settings"]
	require.True(t, ok, "the Dapr extension has no configuration_settings")
	settings, diags := a.Expr.Value(ctx)
	require.False(t, diags.HasErrors(), diags.Error())
	ha, ok := settings.AsValueMap()["global.ha.enabled"]
	require.True(t, ok, "the Dapr extension must set global.ha.enabled")
	assert.Equal(t, "true", ha.AsString(), "the Dapr control plane runs in HA mode (3 replicas over the zones)")
}

// tfTagged are the resource types used here that take tags (azurerm 4.x
// docs): costs and ownership are read from them.
var tfTagged = []string{
	"azurerm_resource_group", "azurerm_iothub", "azurerm_storage_account",
	"azurerm_signalr_service", "azurerm_kubernetes_cluster", "azurerm_container_registry",
	"azurerm_user_assigned_identity", "azurerm_key_vault", "azurerm_key_vault_certificate",
	"azurerm_key_vault_secret",
}

func TestTerraformTags(t *testing.T) {
	c := loadTerraform(t, filepath.Join(repoRoot(t), tfDir))
	for _, typ := range tfTagged {
		for _, b := range c.resourcesOf(typ) {
			t.Run(typ+"."+b.Labels[1], func(t *testing.T) {
				a, ok := b.Body.Attributes["tags"]
				require.True(t, ok, "%s.%s has no tags", typ, b.Labels[1])
				used := false
				for _, tr := range hclsyntax.Variables(a.Expr) {
					used = used || (tr.RootName() == "local" && attrName(tr, 1) == "tags")
				}
				assert.True(t, used, "%s.%s: tags must include local.tags", typ, b.Labels[1])
			})
		}
	}
}

// TestTerraformChecksRefuse: each check fails on the mistake it exists for.
func TestTerraformChecksRefuse(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"misspelt variable", `
variable "region" {
  type    = string
  default = "westeurope"
}
resource "azurerm_resource_group" "main" {
  name     = "rg"
  location = var.regoin
}`, "var.regoin is not a declared variable"},
		{"unknown resource", `
resource "azurerm_storage_account" "main" {
  name = azurerm_resource_group.main.name
}`, "no resource of type azurerm_resource_group"},
		{"unknown resource name", `
resource "azurerm_resource_group" "main" {
  name = "rg"
}
output "rg" {
  value = azurerm_resource_group.mian.name
}`, "azurerm_resource_group.mian is not a declared resource"},
		{"unknown local in a dynamic block", `
resource "azurerm_key_vault_certificate" "c" {
  dynamic "certificate" {
    for_each = local.pfx
    content {
      contents = certificate.value
    }
  }
}`, "local.pfx is not a declared local"},
		{"iterator used outside its dynamic block", `
locals {
  hosts = ["a"]
}
resource "azurerm_key_vault_certificate" "c" {
  dynamic "certificate_policy" {
    for_each = local.hosts
    iterator = host
    content {
      subject = host.value
    }
  }
  name = host.value
}`, "host.value: no resource of type host"},
		{"for expression variable used outside the loop", `
locals {
  list = [for p in ["a"] : p]
  leak = p
}`, "p: no resource of type p"},
		{"unused variable", `
variable "spare" {
  type    = string
  default = "x"
}`, "variable spare is declared but never used"},
		{"variable used only by its own validation", `
variable "size" {
  type    = number
  default = 1
  validation {
    condition     = var.size > 0
    error_message = "size must be positive."
  }
}`, "variable size is declared but never used"},
		{"resource declared twice", `
resource "azurerm_resource_group" "main" {
  name = "a"
}
resource "azurerm_resource_group" "main" {
  name = "b"
}`, "resource azurerm_resource_group.main is declared twice"},
		{"missing data source", `
output "tenant" {
  value = data.azurerm_client_config.current.tenant_id
}`, "data.azurerm_client_config.current is not a declared data source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(tc.src), 0o644))
			c := loadTerraform(t, dir)
			bad, unused := c.unresolved()
			assert.Contains(t, strings.Join(append(bad, unused...), "\n"), tc.want)
		})
	}
}

func TestTerraformParseRefuses(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte("resource \"x\" \"y\" {\n  name = \n}\n"), 0o644))
	_, diags, err := parseTerraform(dir)
	require.NoError(t, err)
	assert.True(t, diags.HasErrors(), "a missing value must be a diagnostic")
}

func TestTerraformOverlayEnvKeys(t *testing.T) {
	dir := t.TempDir()
	src := `
output "env" {
  value = <<-EOT
    A_ID=${local.a}
    IMAGE=${local.b}:${local.c}
  EOT
}
output "joined" {
  value = join("\n", ["A_ID=${local.a}", "HOST=x"])
}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644))
	c := loadTerraform(t, dir)
	got, err := c.outputEnvKeys("env")
	require.NoError(t, err)
	assert.Equal(t, []string{"A_ID", "IMAGE"}, got)
	got, err = c.outputEnvKeys("joined")
	require.NoError(t, err)
	assert.Equal(t, []string{"A_ID", "HOST"}, got)
	_, err = c.outputEnvKeys("missing")
	assert.Error(t, err)
}

// TestTerraformChecksAccept: scoped names are not mistaken for references.
func TestTerraformChecksAccept(t *testing.T) {
	dir := t.TempDir()
	src := `
variable "hosts" {
  type    = list(string)
  default = ["a"]
}
locals {
  keys = [for k, p in { a = 1 } : "${k}=${p}" if p > 0]
}
resource "azurerm_key_vault_certificate" "c" {
  for_each = toset(var.hosts)
  name     = each.key
  tags     = { keys = join(",", local.keys), where = path.module }
  dynamic "certificate_policy" {
    for_each = var.hosts
    iterator = host
    content {
      subject = host.value
      dynamic "san" {
        for_each = [host.value]
        content {
          dns_names = [san.value, host.key]
        }
      }
    }
  }
  lifecycle {
    ignore_changes = [tags]
  }
}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644))
	c := loadTerraform(t, dir)
	bad, unused := c.unresolved()
	assert.Empty(t, bad)
	assert.Empty(t, unused)
}

// azureComponent reads components/azure/<file> into Dapr's own type.
func azureComponent(t *testing.T, root, file string) *componentsapi.Component {
	t.Helper()
	path := filepath.Join(root, "components/azure", file)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var c componentsapi.Component
	require.NoError(t, yaml.UnmarshalStrict(data, &c), path)
	return &c
}

func componentValue(t *testing.T, c *componentsapi.Component, name string) string {
	t.Helper()
	v, ok := metadataValue(c, name)
	require.True(t, ok, "component %s has no metadata %s", c.Name, name)
	return v
}
