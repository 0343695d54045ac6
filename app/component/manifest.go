package component

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Options says how to resolve the manifests for one app.
type Options struct {
	// AppID is the app loading the components: it selects scoped components
	// and replaces {appID}.
	AppID string
	// Getenv reads environment variables for secretKeyRef, envRef, POD_NAME
	// and NAMESPACE; nil means os.Getenv.
	Getenv func(string) string
	// LeaveSecrets leaves every secretKeyRef value empty instead of resolving
	// it: for reading manifests that daprd, not the app, instantiates.
	LeaveSecrets bool
}

const (
	apiVersion = "dapr.io/v1alpha1"
	kind       = "Component"
)

// manifest is the part of a Component manifest daprd uses to build one.
type manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Type     string `json:"type"`
		Version  string `json:"version"`
		Metadata []item `json:"metadata"`
	} `json:"spec"`
	Auth struct {
		SecretStore string `json:"secretStore"`
	} `json:"auth"`
	Scopes []string `json:"scopes"`

	file string // where it was read, for error messages
}

// item is one spec.metadata entry: a value, a secret reference or an env
// variable reference.
type item struct {
	Name         string          `json:"name"`
	Value        json.RawMessage `json:"value"`
	SecretKeyRef struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	} `json:"secretKeyRef"`
	EnvRef string `json:"envRef"`
}

// LoadDir reads the Component manifests in the *.yaml and *.yml files of dir
// (not its subfolders), as daprd's --resources-path does. Files may hold
// several documents separated by "---"; documents of other kinds
// (Configuration, Resiliency, Subscription) are ignored. Components scoped to
// other app ids are skipped. It fails, naming the file, on malformed YAML, on
// a Component without a valid name or type, on two components with one name,
// and on a secret or variable it cannot resolve.
func LoadDir(dir string, opts Options) ([]Component, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load components: %w", err)
	}
	var all []manifest
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("load components: %w", err)
		}
		ms, err := parse(data)
		if err != nil {
			return nil, fmt.Errorf("load components: %s: %w", path, err)
		}
		for i := range ms {
			ms[i].file = path
		}
		all = append(all, ms...)
	}

	var kept []manifest
	seen := map[string]string{}
	for _, m := range all {
		if len(m.Scopes) > 0 && !slices.Contains(m.Scopes, opts.AppID) {
			continue
		}
		if first, dup := seen[m.Metadata.Name]; dup {
			return nil, fmt.Errorf("load components: %s: component %q is also defined in %s", m.file, m.Metadata.Name, first)
		}
		seen[m.Metadata.Name] = m.file
		kept = append(kept, m)
	}

	r := newResolver(kept, opts)
	out := make([]Component, 0, len(kept))
	for _, m := range kept {
		c, err := r.resolve(m)
		if err != nil {
			return nil, fmt.Errorf("load components: %s: %w", m.file, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// parse decodes the Component documents of one file.
func parse(data []byte) ([]manifest, error) {
	var out []manifest
	for i, doc := range documents(data) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if head.APIVersion != apiVersion || head.Kind != kind {
			continue
		}
		var m manifest
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if err := m.validate(); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// validate applies daprd's checks on a component's name and type.
func (m manifest) validate() error {
	name := m.Metadata.Name
	switch {
	case name == "":
		return fmt.Errorf("component without metadata.name")
	case name == "." || name == ".." || strings.ContainsAny(name, "/%"):
		return fmt.Errorf("invalid component name %q", name)
	case m.Spec.Type == "":
		return fmt.Errorf("component %q without spec.type", name)
	}
	for _, it := range m.Spec.Metadata {
		if it.Name == "" {
			return fmt.Errorf("component %q: metadata entry without a name", name)
		}
	}
	return nil
}

// documents splits a YAML stream the way daprd does: a line starting with
// "---" ends a document. Blank documents are dropped.
func documents(data []byte) [][]byte {
	var (
		out [][]byte
		cur bytes.Buffer
	)
	flush := func() {
		if len(bytes.TrimSpace(cur.Bytes())) > 0 {
			out = append(out, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte("---")) {
			flush()
			continue
		}
		cur.Write(line)
		cur.WriteByte('\n')
	}
	flush()
	return out
}
