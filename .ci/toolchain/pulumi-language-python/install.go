package main

// InstallDependencies: what `pulumi install` calls (as do `pulumi new`,
// `pulumi policy new` and plugin installs from source). The toolchain
// in the runtime options does the work, as in upstream's host: pip creates
// the virtualenv if one is configured and installs requirements.txt, uv runs
// `uv sync` (creating .venv), poetry runs `poetry install`. Its output goes
// back on the response stream, which the CLI prints.

import (
	"fmt"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	info := req.GetInfo()
	opts, err := toolchainOptions(info)
	if err != nil {
		return err
	}
	// The folder that holds requirements.txt / pyproject.toml: the program
	// directory (Pulumi.yaml's `main`), as upstream's host uses.
	dir := info.GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory() //nolint:staticcheck // older engines send only this
	}
	if opts.Root == "" {
		opts.Root = dir
	}
	if opts.ProgramDir == "" {
		opts.ProgramDir = dir
	}
	// Plugins (policy packs) get their own virtualenv with pip, as in RunPlugin.
	if req.GetIsPlugin() && opts.Toolchain == toolchain.Pip && opts.Virtualenv == "" {
		opts.Virtualenv = "venv"
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return err
	}

	stdout, stderr := newStreamWriters(
		func(b []byte) error { return server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: b}) },
		func(b []byte) error { return server.Send(&pulumirpc.InstallDependenciesResponse{Stderr: b}) },
	)
	fmt.Fprintf(stdout, "Installing dependencies...\n\n")
	// useLanguageVersionTools: only when the user asks (`pulumi install
	// --use-language-version-tools`, which needs pyenv); showOutput: stream
	// the tools' output.
	if err := tc.InstallDependencies(server.Context(), dir, req.GetUseLanguageVersionTools(), true,
		stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Finished installing dependencies\n\n")
	return nil
}
