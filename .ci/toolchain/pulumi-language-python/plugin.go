package main

// RunPlugin: how the engine starts a plugin that is a directory of Python
// source rather than an executable. Two kinds:
//   - "analyzer": `pulumi preview --policy-pack DIR`, where DIR/PulumiPolicy.yaml
//     says `runtime: python`;
//   - "resource": a component provider whose PulumiPlugin.yaml says
//     `runtime: python` (`pulumi package add DIR`, or a Pulumi.yaml `packages:`
//     entry naming DIR), as this repository is.
//
// The engine (pkg/resource/plugin.ExecPlugin in the CLI) sends
//   - Info: root and program directory = DIR, options = the plugin file's
//     runtime options (toolchain, virtualenv);
//   - Args: [--logtostderr] [-v=N] [--tracing ENDPOINT] ENGINE_ADDRESS;
//   - Env: the whole environment for the plugin; Pwd: the project directory.
// It then reads the plugin's stdout and stderr from the response stream, takes
// the plugin's gRPC port from the first stdout line, and waits for the exit
// code message. Cancelling the call (the engine is done with the plugin) kills
// the process.
//
// A policy pack runs as `python -u -m pulumi.policy ARGS... DIR` in the pack's
// virtualenv. `pulumi.policy` ships in the pulumi Python SDK (a dependency of
// pulumi_policy): it parses `engineAddress program [--tracing ...]`, ignoring
// flags it does not know, and runs DIR/__main__.py, whose PolicyPack(...)
// serves the Analyzer service and writes its port with
// sys.stdout.buffer.write and no flush, hence -u: without it the port sits in
// Python's buffer and the engine waits for ever.
//
// A resource plugin runs as `python -u DIR ARGS...`: DIR/__main__.py, as
// upstream's host runs a plugin directory that has one (a directory without
// __main__.py, run through `pulumi.run.plugin`, is not supported here).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	kind := req.GetKind()
	if kind != string(apitype.AnalyzerPlugin) && kind != string(apitype.ResourcePlugin) {
		return status.Errorf(codes.Unimplemented,
			"this language host (the triton-platform e2e toolchain's) runs Python policy packs and "+
				"resource providers (plugin kinds %q, %q), not kind %q",
			apitype.AnalyzerPlugin, apitype.ResourcePlugin, kind)
	}
	ctx := server.Context()

	info := req.GetInfo()
	packDir := info.GetProgramDirectory()
	if packDir == "" {
		packDir = req.GetProgram() //nolint:staticcheck // older engines send only this
	}
	if packDir == "" {
		return status.Error(codes.InvalidArgument, "RunPlugin: no plugin directory in info.program_directory")
	}
	opts, err := toolchainOptions(info)
	if err != nil {
		return err
	}
	if opts.Root == "" {
		opts.Root = packDir
	}
	if opts.ProgramDir == "" {
		opts.ProgramDir = packDir
	}
	// As upstream's host: with pip, a plugin gets its own virtualenv ("venv"
	// beside PulumiPolicy.yaml) even when the file names none.
	if opts.Toolchain == toolchain.Pip && opts.Virtualenv == "" {
		opts.Virtualenv = "venv"
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return err
	}

	var args []string
	pluginFile := "PulumiPolicy.yaml"
	if kind == string(apitype.AnalyzerPlugin) {
		args = append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
		args = append(args, packDir)
	} else {
		pluginFile = "PulumiPlugin.yaml"
		if _, err := os.Stat(filepath.Join(packDir, "__main__.py")); err != nil {
			return fmt.Errorf("resource plugin %s has no __main__.py: this host runs only plugin "+
				"directories with one (%w)", packDir, err)
		}
		args = append([]string{"-u", packDir}, req.GetArgs()...)
	}
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		// The toolchain's message names Pulumi.yaml; for a pack the option is elsewhere.
		return fmt.Errorf("%w\n(for this plugin, runtime.options in %s)",
			err, filepath.Join(packDir, pluginFile))
	}
	env, err := activatedEnv(ctx, tc, req.GetEnv())
	if err != nil {
		return err
	}
	cmd.Env = env
	cmd.Dir = req.GetPwd()

	stdout, stderr := newStreamWriters(
		func(b []byte) error {
			return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
		},
		func(b []byte) error {
			return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
		},
	)
	cmd.Stdout, cmd.Stderr = stdout, stderr

	var code int32
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("could not start plugin %s with %s: %w", packDir, cmd.Path, err)
		}
		if ctx.Err() != nil {
			// The engine cancelled the call to stop the plugin; nobody reads the stream now.
			return status.FromContextError(ctx.Err()).Err()
		}
		code = int32(exitErr.ExitCode()) //nolint:gosec // an exit status, or -1 after a signal
	}
	// cmd.Run has returned, so stdout and stderr are fully sent and nothing
	// else writes to the stream: the exit code comes last.
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

// activatedEnv is the environment the engine asked for, with the toolchain's
// virtualenv activated in it (its bin/ first on PATH, VIRTUAL_ENV set,
// PYTHONHOME unset). tc.Command activates it in this host's own environment;
// the plugin must get the engine's.
func activatedEnv(ctx context.Context, tc toolchain.Toolchain, env []string) ([]string, error) {
	if len(env) == 0 {
		env = os.Environ()
	}
	venv, err := tc.VirtualEnvPath(ctx)
	if err != nil {
		return nil, fmt.Errorf("locating the virtualenv: %w", err)
	}
	if venv == "" {
		return env, nil
	}
	return toolchain.ActivateVirtualEnv(env, venv), nil
}
