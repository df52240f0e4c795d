package api_test

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/amtsform/amtsform"

// goList returns, for every package of the module, its non-test
// dependencies (transitive) and its directory.
func goList(t *testing.T) (deps map[string][]string, imports map[string][]string, dirs map[string]string) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .Deps \" \"}}\t{{join .Imports \" \"}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps, imports, dirs = map[string][]string{}, map[string][]string{}, map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			t.Fatalf("go list line %q", sc.Text())
		}
		dirs[f[0]] = f[1]
		deps[f[0]] = strings.Fields(f[2])
		imports[f[0]] = strings.Fields(f[3])
	}
	return deps, imports, dirs
}

func hasPrefixAny(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, p+"/") {
			return true
		}
	}
	return false
}

// lifePackages are the packages of an application's life (the domain),
// as opposed to the compiler, the store adapter and the HTTP layer.
var lifePackages = []string{
	module + "/engine/intake", module + "/engine/catalog", module + "/engine/sweep",
	module + "/engine/casework", module + "/engine/delivery", module + "/engine/audit",
	module + "/engine/directory", module + "/engine/registry", module + "/engine/staff",
}

// TestLayering checks the properties the package map promises
// (docs/architecture.md):
//  1. the store adapter links neither CUE nor expr;
//  2. the compiler imports no package of an application's life, and
//     those import no HTTP, UI or database driver package;
//  3. no handler package imports the store adapter or names a store.
func TestLayering(t *testing.T) {
	deps, imports, dirs := goList(t)
	for pkg, ds := range deps {
		for _, d := range ds {
			switch {
			case hasPrefixAny(pkg, module+"/engine/mongostore", module+"/engine/record") &&
				hasPrefixAny(d, "cuelang.org/go", "github.com/expr-lang/expr", module+"/engine/intake", module+"/engine/catalog"):
				t.Errorf("1: %s depends on %s", pkg, d)
			case pkg == module+"/engine" && hasPrefixAny(d, append(lifePackages, module+"/engine/mongostore", module+"/api", module+"/ui")...):
				t.Errorf("2: the compiler depends on %s", d)
			case hasPrefixAny(pkg, lifePackages...) &&
				hasPrefixAny(d, module+"/api", module+"/ui", module+"/engine/mongostore", "go.mongodb.org/mongo-driver", "github.com/gofiber/fiber"):
				t.Errorf("2: %s depends on %s", pkg, d)
			case hasPrefixAny(pkg, module+"/api") && hasPrefixAny(d, module+"/engine/mongostore", "go.mongodb.org/mongo-driver"):
				t.Errorf("3: handler package %s depends on %s", pkg, d)
			}
		}
	}
	// The handler packages call the domain packages, never a store: no
	// non-test file names a Store field, type or interface.
	for pkg, dir := range dirs {
		if !hasPrefixAny(pkg, module+"/api") {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		fset := token.NewFileSet()
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(af, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Store" {
					t.Errorf("3: %s names %s", fset.Position(sel.Pos()), sel.Sel.Name)
				}
				return true
			})
		}
	}
	// The audiences do not import each other.
	var audiences []string
	for pkg := range dirs {
		if strings.HasPrefix(pkg, module+"/api/") {
			audiences = append(audiences, pkg)
		}
	}
	for _, a := range audiences {
		for _, imp := range imports[a] {
			if imp != a && strings.HasPrefix(imp, module+"/api/") && !isShared(imp) {
				t.Errorf("%s imports the audience package %s", a, imp)
			}
		}
	}
}

// isShared reports whether an api/ subpackage is shared plumbing that the
// audiences may import (not an audience itself).
func isShared(pkg string) bool {
	base := pkg[strings.LastIndex(pkg, "/")+1:]
	switch base {
	case "httpx", "receipt", "apitest", "web", "render":
		return true
	}
	return false
}
