package component

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	compapi "github.com/dapr/dapr/pkg/apis/components/v1alpha1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// DefaultInitTimeout bounds a component's Init when its manifest sets no
// spec.initTimeout: daprd's default (pkg/runtime/processor).
const DefaultInitTimeout = 5 * time.Second

// apiVersion and kind mark the documents LoadDir reads.
var (
	apiVersion = compapi.Component{}.APIVersion()
	kind       = compapi.Kind
)

// manifest is one Component document, decoded into daprd's own type, and
// the file it was read from.
type manifest struct {
	compapi.Component

	file string // where it was read, for error messages
}

// LoadDir reads the Component manifests in the *.yaml and *.yml files of dir
// (not its subfolders), as daprd's --resources-path does. Files may hold
// several documents separated by "---"; documents of other kinds
// (Configuration, Resiliency, Subscription) are ignored. Components scoped to
// other app ids are skipped. It fails, naming the file, on malformed YAML, on
// a Component without a valid name or type or with a malformed
// spec.initTimeout, on two components with one name, and on a secret or
// variable it cannot resolve.
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
		if !m.IsAppScoped(opts.AppID) {
			continue
		}
		if first, dup := seen[m.Name]; dup {
			return nil, fmt.Errorf("load components: %s: component %q is also defined in %s", m.file, m.Name, first)
		}
		seen[m.Name] = m.file
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

// parse decodes the Component documents of one file. Like daprd it reads
// only the documents of its apiVersion and kind, and ignores fields it
// does not know.
func parse(data []byte) ([]manifest, error) {
	var out []manifest
	for i, doc := range documents(data) {
		var head metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if head.APIVersion != apiVersion || head.Kind != kind {
			continue
		}
		var m manifest
		if err := yaml.Unmarshal(doc, &m.Component); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if err := validate(m.Component); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// validate applies daprd's checks on a component's name (the loader's
// path.IsValidPathSegmentName) and type, and refuses an initTimeout that is
// not a positive duration, which daprd would silently replace with its
// default.
func validate(c compapi.Component) error {
	name := c.Name
	if name == "" {
		return fmt.Errorf("component without metadata.name")
	}
	if bad := path.IsValidPathSegmentName(name); len(bad) > 0 {
		return fmt.Errorf("invalid component name %q: %s", name, strings.Join(bad, "; "))
	}
	if c.Spec.Type == "" {
		return fmt.Errorf("component %q without spec.type", name)
	}
	for _, it := range c.Spec.Metadata {
		if it.Name == "" {
			return fmt.Errorf("component %q: metadata entry without a name", name)
		}
	}
	if _, err := initTimeout(c.Spec.InitTimeout); err != nil {
		return fmt.Errorf("component %q: %w", name, err)
	}
	return nil
}

// initTimeout parses spec.initTimeout as daprd does (time.ParseDuration);
// empty means DefaultInitTimeout.
func initTimeout(s string) (time.Duration, error) {
	if s == "" {
		return DefaultInitTimeout, nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("spec.initTimeout %q is not a duration such as 5s or 1m30s", s)
	case d <= 0:
		return 0, fmt.Errorf("spec.initTimeout %q: must be more than 0", s)
	}
	return d, nil
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
