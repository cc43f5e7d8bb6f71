// pulumi-sdkgen LANGUAGE SCHEMA OUT: writes the SDK that `pulumi package add` would generate for
// LANGUAGE (nodejs or go) from a package schema file into OUT, with the same generators.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/blang/semver"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

// The package references no other package: any load is a schema error.
type noExternal struct{}

var errExternal = errors.New("the tritonplatform schema must not reference other packages")

func (noExternal) LoadPackage(string, *semver.Version) (*schema.Package, error) {
	return nil, errExternal
}
func (noExternal) LoadPackageV2(context.Context, *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, errExternal
}
func (noExternal) LoadPackageReference(string, *semver.Version) (schema.PackageReference, error) {
	return nil, errExternal
}
func (noExternal) LoadPackageReferenceV2(context.Context, *schema.PackageDescriptor) (schema.PackageReference, error) {
	return nil, errExternal
}

func main() {
	if len(os.Args) != 4 {
		check(errors.New("usage: pulumi-sdkgen nodejs|go SCHEMA.json OUT_DIR"))
	}
	lang, in, out := os.Args[1], os.Args[2], os.Args[3]
	raw, err := os.ReadFile(in)
	check(err)
	var spec schema.PackageSpec
	check(json.Unmarshal(raw, &spec))
	pkg, diags, err := schema.BindSpec(spec, noExternal{}, schema.ValidationOptions{})
	check(err)
	if diags.HasErrors() {
		check(diags)
	}
	var files map[string][]byte
	switch lang {
	case "nodejs":
		files, err = nodejs.GeneratePackage("sdkgen", pkg, nil, nil, true, noExternal{})
	case "go":
		files, err = gogen.GeneratePackage("sdkgen", pkg, nil)
	default:
		err = fmt.Errorf("language %q: give nodejs or go", lang)
	}
	check(err)
	for name, data := range files {
		p := filepath.Join(out, name)
		check(os.MkdirAll(filepath.Dir(p), 0o755))
		check(os.WriteFile(p, data, 0o644))
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
