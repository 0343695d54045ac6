package deploy

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// A Terraform module read as HCL: what Terraform would reject before it
// talks to a provider (syntax, references to nothing declared, unused
// variables), and the constant values of the names it gives resources.
// hclparse and hclsyntax do the parsing; only Terraform's rules of scope
// are written out here.

// tfBuiltinRoots are the reference roots Terraform itself provides.
var tfBuiltinRoots = map[string]bool{"each": true, "count": true, "self": true, "path": true, "terraform": true}

// tfConfig is a Terraform module read as HCL, without Terraform's semantics
// beyond what the checks need.
type tfConfig struct {
	files     map[string]*hclsyntax.Body
	src       map[string][]byte
	variables map[string]*hclsyntax.Block
	locals    map[string]*hclsyntax.Attribute
	resources map[string]map[string]*hclsyntax.Block // type → name → block
	data      map[string]map[string]*hclsyntax.Block
	modules   map[string]*hclsyntax.Block
	outputs   map[string]*hclsyntax.Block
	dups      []string // names declared twice
}

// parseTerraform parses every .tf file of dir; the diagnostics are those of
// all files together.
func parseTerraform(dir string) (*tfConfig, hcl.Diagnostics, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, nil, err
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("no .tf files in %s", dir)
	}
	c := &tfConfig{
		files: map[string]*hclsyntax.Body{}, src: map[string][]byte{},
		variables: map[string]*hclsyntax.Block{}, locals: map[string]*hclsyntax.Attribute{},
		resources: map[string]map[string]*hclsyntax.Block{}, data: map[string]map[string]*hclsyntax.Block{},
		modules: map[string]*hclsyntax.Block{}, outputs: map[string]*hclsyntax.Block{},
	}
	p := hclparse.NewParser()
	var diags hcl.Diagnostics
	for _, name := range names {
		f, d := p.ParseHCLFile(name)
		diags = append(diags, d...)
		if f == nil {
			continue
		}
		body := f.Body.(*hclsyntax.Body)
		c.files[name], c.src[name] = body, f.Bytes
		c.index(body)
	}
	return c, diags, nil
}

func (c *tfConfig) index(body *hclsyntax.Body) {
	once := func(kind, name string, seen bool) {
		if seen {
			c.dups = append(c.dups, fmt.Sprintf("%s %s is declared twice", kind, name))
		}
	}
	one := func(m map[string]*hclsyntax.Block, b *hclsyntax.Block) {
		if len(b.Labels) == 1 {
			once(b.Type, b.Labels[0], m[b.Labels[0]] != nil)
			m[b.Labels[0]] = b
		}
	}
	two := func(m map[string]map[string]*hclsyntax.Block, b *hclsyntax.Block) {
		if len(b.Labels) != 2 {
			return
		}
		if m[b.Labels[0]] == nil {
			m[b.Labels[0]] = map[string]*hclsyntax.Block{}
		}
		once(b.Type, b.Labels[0]+"."+b.Labels[1], m[b.Labels[0]][b.Labels[1]] != nil)
		m[b.Labels[0]][b.Labels[1]] = b
	}
	for _, b := range body.Blocks {
		switch b.Type {
		case "variable":
			one(c.variables, b)
		case "module":
			one(c.modules, b)
		case "output":
			one(c.outputs, b)
		case "resource":
			two(c.resources, b)
		case "data":
			two(c.data, b)
		case "locals":
			for name, a := range b.Body.Attributes {
				once("local", name, c.locals[name] != nil)
				c.locals[name] = a
			}
		}
	}
}

// tfRef is one reference found in an expression.
type tfRef struct {
	trav hcl.Traversal
	// scope holds the iterator names of the dynamic blocks around it.
	scope map[string]bool
}

// notRefs are attributes, per enclosing block type, whose expressions are
// not references: type constraints, attribute names, provider addresses and
// a dynamic block's iterator name.
var notRefs = map[string]map[string]bool{
	"variable":  {"type": true},
	"lifecycle": {"ignore_changes": true},
	"resource":  {"provider": true},
	"data":      {"provider": true},
	"dynamic":   {"iterator": true},
}

// refs returns every reference in a block, through nested and dynamic
// blocks; scope holds the iterator names of the dynamic blocks around it.
// Iterators of for expressions never appear: hclsyntax.Variables leaves out
// the names a ForExpr binds, since it walks the loop body in a child scope
// (hclsyntax.ChildScope).
func refs(b *hclsyntax.Block, scope map[string]bool) []tfRef {
	var out []tfRef
	for name, a := range b.Body.Attributes {
		if notRefs[b.Type][name] {
			continue
		}
		for _, tr := range hclsyntax.Variables(a.Expr) {
			out = append(out, tfRef{tr, scope})
		}
	}
	inner := scope
	if b.Type == "dynamic" && len(b.Labels) == 1 {
		// for_each is evaluated outside the iterator's scope (above), the
		// content block inside it. The iterator is named after the block
		// unless the iterator argument names it.
		it := b.Labels[0]
		if a, ok := b.Body.Attributes["iterator"]; ok {
			it = hcl.ExprAsKeyword(a.Expr)
		}
		inner = map[string]bool{it: true}
		for k := range scope {
			inner[k] = true
		}
	}
	for _, nested := range b.Body.Blocks {
		out = append(out, refs(nested, inner)...)
	}
	return out
}

// attrName returns the name step i of a traversal, or "".
func attrName(tr hcl.Traversal, i int) string {
	if i >= len(tr) {
		return ""
	}
	if a, ok := tr[i].(hcl.TraverseAttr); ok {
		return a.Name
	}
	return ""
}

// resolve says what is wrong with a reference, or "" when it names
// something declared. It marks the variables it sees as used.
func (c *tfConfig) resolve(r tfRef, used map[string]bool) string {
	tr := r.trav
	root := tr.RootName()
	switch {
	case tfBuiltinRoots[root] || r.scope[root]:
		return ""
	case root == "var":
		name := attrName(tr, 1)
		used[name] = true
		if c.variables[name] == nil {
			return fmt.Sprintf("var.%s is not a declared variable", name)
		}
	case root == "local":
		if name := attrName(tr, 1); c.locals[name] == nil {
			return fmt.Sprintf("local.%s is not a declared local", name)
		}
	case root == "module":
		if name := attrName(tr, 1); c.modules[name] == nil {
			return fmt.Sprintf("module.%s is not a declared module", name)
		}
	case root == "data":
		typ, name := attrName(tr, 1), attrName(tr, 2)
		if c.data[typ][name] == nil {
			return fmt.Sprintf("data.%s.%s is not a declared data source", typ, name)
		}
	default:
		name := attrName(tr, 1)
		if c.resources[root] == nil {
			return fmt.Sprintf("%s: no resource of type %s (nor an iterator of that name in scope)", strings.TrimSuffix(root+"."+name, "."), root)
		}
		if c.resources[root][name] == nil {
			return fmt.Sprintf("%s.%s is not a declared resource", root, name)
		}
	}
	return ""
}

// problems lists what is wrong with the references in one top-level block,
// marking the variables it uses.
func (c *tfConfig) problems(b *hclsyntax.Block, used map[string]bool) []string {
	if b.Type == "terraform" {
		return nil // provider requirements: no references
	}
	if b.Type == "variable" {
		used = map[string]bool{} // its own validation is no use of it
	}
	var bad []string
	for _, r := range refs(b, nil) {
		if why := c.resolve(r, used); why != "" {
			rng := r.trav.SourceRange()
			bad = append(bad, fmt.Sprintf("%s:%d: %s", filepath.Base(rng.Filename), rng.Start.Line, why))
		}
	}
	return bad
}

// unresolved lists the references that name nothing declared and the names
// declared twice, then the declared variables nothing uses.
func (c *tfConfig) unresolved() (bad, unused []string) {
	used := map[string]bool{}
	for _, file := range sortedKeys(c.files) {
		for _, b := range c.files[file].Blocks {
			bad = append(bad, c.problems(b, used)...)
		}
	}
	sort.Strings(bad)
	bad = append(bad, c.dups...)
	for _, name := range sortedKeys(c.variables) {
		if !used[name] {
			unused = append(unused, "variable "+name+" is declared but never used")
		}
	}
	return bad, unused
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// evalContext holds the variables' defaults and every local that can be
// computed from them alone (no functions, no resources): enough to read
// the fixed names a resource is given.
func (c *tfConfig) evalContext() *hcl.EvalContext {
	vars := map[string]cty.Value{}
	for name, b := range c.variables {
		if a, ok := b.Body.Attributes["default"]; ok {
			if v, d := a.Expr.Value(nil); !d.HasErrors() {
				vars[name] = v
			}
		}
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars), "local": cty.EmptyObjectVal}}
	locals := map[string]cty.Value{}
	for progress := true; progress; {
		progress = false
		for name, a := range c.locals {
			if _, done := locals[name]; done {
				continue
			}
			if v, d := a.Expr.Value(ctx); !d.HasErrors() && v.IsWhollyKnown() {
				locals[name], progress = v, true
			}
		}
		ctx.Variables["local"] = cty.ObjectVal(locals)
	}
	return ctx
}

// str evaluates a string attribute of a block.
func str(ctx *hcl.EvalContext, b *hclsyntax.Block, attr string) (string, error) {
	a, ok := b.Body.Attributes[attr]
	if !ok {
		return "", fmt.Errorf("%s %s: no %s", b.Labels[0], strings.Join(b.Labels[1:], "."), attr)
	}
	v, d := a.Expr.Value(ctx)
	if d.HasErrors() || !v.IsWhollyKnown() || v.Type() != cty.String {
		return "", fmt.Errorf("%s: %s is not a constant string (it must be a literal, a variable default or a plain local)", a.SrcRange, attr)
	}
	return v.AsString(), nil
}

// strs evaluates a list-of-strings attribute of a block.
func strs(ctx *hcl.EvalContext, b *hclsyntax.Block, attr string) ([]string, error) {
	a, ok := b.Body.Attributes[attr]
	if !ok {
		return nil, fmt.Errorf("%s %s: no %s", b.Labels[0], strings.Join(b.Labels[1:], "."), attr)
	}
	v, d := a.Expr.Value(ctx)
	if d.HasErrors() || !v.IsWhollyKnown() || !(v.Type().IsListType() || v.Type().IsTupleType()) {
		return nil, fmt.Errorf("%s: %s is not a constant list", a.SrcRange, attr)
	}
	var out []string
	for _, e := range v.AsValueSlice() {
		if e.Type() != cty.String {
			return nil, fmt.Errorf("%s: %s holds a non-string", a.SrcRange, attr)
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

// varDefault is the default of a string variable.
func (c *tfConfig) varDefault(name string) (string, error) {
	b := c.variables[name]
	if b == nil {
		return "", fmt.Errorf("no variable %q", name)
	}
	return str(nil, b, "default")
}

// usesVar says whether a block refers to var.name anywhere inside.
func usesVar(b *hclsyntax.Block, name string) bool {
	for _, r := range refs(b, nil) {
		if r.trav.RootName() == "var" && attrName(r.trav, 1) == name {
			return true
		}
	}
	return false
}

// envKey finds the KEY= names an output spells out, whether as heredoc
// lines or as quoted strings (joined with "\n").
var envKey = regexp.MustCompile(`(?m)(?:^|"|\\n)\s*([A-Z][A-Z0-9_]*)=`)

// outputEnvKeys returns the KEY= names in an output's value, in order.
func (c *tfConfig) outputEnvKeys(name string) ([]string, error) {
	b := c.outputs[name]
	if b == nil {
		return nil, fmt.Errorf("no output %q", name)
	}
	a, ok := b.Body.Attributes["value"]
	if !ok {
		return nil, fmt.Errorf("output %q has no value", name)
	}
	rng := a.Expr.Range()
	text := c.src[rng.Filename][rng.Start.Byte:rng.End.Byte]
	var keys []string
	for _, m := range envKey.FindAllSubmatch(text, -1) {
		keys = append(keys, string(m[1]))
	}
	return keys, nil
}

// loadTerraform parses the repository's Terraform and fails on any
// diagnostic.
func loadTerraform(t *testing.T, dir string) *tfConfig {
	t.Helper()
	c, diags, err := parseTerraform(dir)
	require.NoError(t, err)
	require.Empty(t, diags, "%s does not parse cleanly:\n%s", dir, diags.Error())
	return c
}

// resourcesOf returns the blocks of one resource type, in name order.
func (c *tfConfig) resourcesOf(typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, name := range sortedKeys(c.resources[typ]) {
		out = append(out, c.resources[typ][name])
	}
	return out
}
