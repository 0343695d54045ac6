package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Azurite's fixed development account, the same on every installation.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// azuriteInstall says how to make azurite-table available.
const azuriteInstall = "npm install --prefix .bin/azurite azurite@3.37.0 (or put azurite-table on PATH, or set AZURITE_TABLE to it)"

// Azurite is a running Azurite Table service.
type Azurite struct {
	// TableURL is the service URL for the development account, for the
	// state.azure.tablestorage metadata serviceURL.
	TableURL string
	// Account and Key are the development account's credentials.
	Account, Key string
}

// StartAzurite starts Azurite's Table service in memory on a free port of
// 127.0.0.1. It looks for azurite-table in $AZURITE_TABLE, on PATH, then in
// <repo>/.bin/azurite/node_modules/.bin. It is stopped when the test ends.
func StartAzurite(t testing.TB) Azurite {
	t.Helper()
	bin := azuriteTable(t)
	if bin == "" {
		Missing(t, "azurite-table", azuriteInstall)
	}
	if _, err := exec.LookPath("node"); err != nil {
		Missing(t, "node (to run Azurite)", "apt-get install nodejs")
	}
	var last error
	for range 3 {
		port := FreePort(t)
		dir := t.TempDir()
		p := start(t, dir, bin,
			"--tableHost", "127.0.0.1", "--tablePort", fmt.Sprint(port),
			"--inMemoryPersistence", "--skipApiVersionCheck", "--disableProductStyleUrl",
			"--disableTelemetry", "--silent")
		url := "http://" + addr(port) + "/" + AzuriteAccount
		if last = p.waitReady(30*time.Second, func(ctx context.Context) error { return answers(ctx, url) }); last == nil {
			return Azurite{TableURL: url, Account: AzuriteAccount, Key: AzuriteKey}
		}
		p.stop()
	}
	t.Fatalf("azurite-table: %v", last)
	return Azurite{}
}

// AzuriteTable returns the azurite-table program StartAzurite runs, for a
// test that runs it itself (on disk, to stop and start it); it fails or
// skips the test as Missing does when there is none.
func AzuriteTable(t testing.TB) string {
	t.Helper()
	bin := azuriteTable(t)
	if bin == "" {
		Missing(t, "azurite-table", azuriteInstall)
	}
	return bin
}

func azuriteTable(t testing.TB) string {
	if p := os.Getenv("AZURITE_TABLE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	if p, err := exec.LookPath("azurite-table"); err == nil {
		return p
	}
	p := filepath.Join(RepoRoot(t), ".bin", "azurite", "node_modules", ".bin", "azurite-table")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// answers succeeds once the server returns any HTTP response.
func answers(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/Tables", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
