// pulumi-language-python for the e2e toolchain: a small Python language host.
//
// Why this exists: upstream's host is the separate, never-tagged module
// github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3, and the
// Go module proxy this project can reach serves no version of it (its @v/list
// and every query answer "403 This module version is not available"). The
// parts that the e2e suite needs are small:
//
//   - Run (`pulumi preview/up/destroy`): start `pulumi-language-python-exec`
//     (shipped in the sdk/v3 module, copied next to this binary by
//     .ci/toolchain/build) with the arguments and environment that script reads.
//   - RunPlugin for kind "analyzer" (`--policy-pack DIR` with a Python
//     PulumiPolicy.yaml): run the pack with `python -u -m pulumi.policy`, see
//     plugin.go.
//   - InstallDependencies (`pulumi install`), see install.go.
//   - About, Handshake, GetPluginInfo.
//
// Python and the virtualenv are resolved with sdk/v3's own python/toolchain
// package, so `runtime.options.toolchain` (pip, poetry, uv) and `virtualenv`
// in Pulumi.yaml / PulumiPolicy.yaml behave as with upstream's host.
//
// Not implemented (the CLI falls back or the command is not used by the e2e
// suite): GetRequiredPackages (the engine falls back to GetRequiredPlugins,
// which reports none, so providers load on first use and must already be
// installed), RunPlugin for other kinds (Python providers, converters, tools),
// program/project/package generation, templates (`pulumi new`), Pack,
// GetProgramDependencies and debugging (attach_debugger is ignored).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

// version is stamped by .ci/toolchain/build (-X main.version=...).
var version = "dev"

// Exit code with which pulumi-language-python-exec says it already showed the
// user an actionable message: report a bail, not a second error.
const execBailExitCode = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	exec          string
	engineAddress string
}

func main() {
	// Flags upstream's host accepts; the CLI passes only the engine address
	// today, but accept these so an engine that passes them still works.
	flag.String("tracing", "", "ignored")
	flag.String("root", "", "ignored")
	useExecutor := flag.String("use-executor", "", "path of pulumi-language-python-exec")
	// Older engines (the Pulumi SDK inside Pulumi YAML's host, which starts a
	// Python package's plugin to read its schema) pass the plugin's runtime
	// options as flags: used where a request carries no options.
	for _, name := range []string{"virtualenv", "toolchain", "typechecker"} {
		flag.Func(name, "runtime option "+name+" (where a request carries none)", func(v string) error {
			flagOptions[name] = v
			return nil
		})
	}
	flag.Parse()

	execPath, err := findExecutor(*useExecutor)
	if err != nil {
		cmdutil.Exit(err)
	}
	h := &host{exec: execPath, engineAddress: flag.Arg(0)}

	ctx, cancel := context.WithCancel(context.Background())
	if h.engineAddress != "" {
		// Exit when the engine goes away, as upstream's host does, so an
		// aborted `pulumi up` leaves no orphan.
		go func() { _ = rpcutil.Healthcheck(ctx, h.engineAddress, 5*time.Minute, cancel) }()
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: ctxDone(ctx),
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	// The CLI reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

func ctxDone(ctx context.Context) chan bool {
	c := make(chan bool)
	go func() { <-ctx.Done(); close(c) }()
	return c
}

// findExecutor prefers the exec script next to this binary (that is where the
// build puts it), then PATH.
func findExecutor(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	const name = "pulumi-language-python-exec"
	if self, err := os.Executable(); err == nil {
		candidate := filepath.Join(filepath.Dir(self), name)
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("could not find %s next to this binary or on PATH: %w", name, err)
	}
	return p, nil
}

func (h *host) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

// toolchainOptions reads the `toolchain` and `virtualenv` runtime options of
// Pulumi.yaml (or PulumiPolicy.yaml) from the program info the engine sends.
// flagOptions: runtime options given as command-line flags (see main).
var flagOptions = map[string]any{}

func toolchainOptions(info *pulumirpc.ProgramInfo) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
	}
	raw := info.GetOptions().AsMap()
	if len(raw) == 0 {
		raw = flagOptions
	}
	switch v := raw["virtualenv"].(type) {
	case nil:
	case string:
		opts.Virtualenv = v
	default:
		return opts, fmt.Errorf("runtime option virtualenv=%v: expected a string", v)
	}
	switch raw["toolchain"] {
	case nil, "", "auto":
	case "pip":
		opts.Toolchain = toolchain.Pip
	case "poetry":
		opts.Toolchain = toolchain.Poetry
	case "uv":
		opts.Toolchain = toolchain.Uv
	default:
		return opts, fmt.Errorf("runtime option toolchain=%v: expected pip, poetry or uv", raw["toolchain"])
	}
	return opts, nil
}

func resolveToolchain(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	opts, err := toolchainOptions(info)
	if err != nil {
		return nil, err
	}
	return toolchain.ResolveToolchain(opts)
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	// A stack without config sends nil here; the exec script needs a JSON
	// object and a list ("null" crashes it in set_all_config).
	configMap, keys := req.GetConfig(), req.GetConfigSecretKeys()
	if configMap == nil {
		configMap = map[string]string{}
	}
	if keys == nil {
		keys = []string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, fmt.Errorf("serializing config: %w", err)
	}
	secretKeys, err := json.Marshal(keys)
	if err != nil {
		return nil, fmt.Errorf("serializing config secret keys: %w", err)
	}

	// The flags pulumi-language-python-exec's argparse defines.
	args := []string{h.exec}
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("organization", req.GetOrganization())
	add("root_directory", req.GetInfo().GetRootDirectory())
	program := req.GetInfo().GetEntryPoint()
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	// After Command, which for uv syncs (and so creates) the venv: a missing
	// pip venv now fails with the commands that create it, not with "fork/exec
	// .../venv/bin/python: no such file or directory".
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env,
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys),
	)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == execBailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
	}, nil
}
