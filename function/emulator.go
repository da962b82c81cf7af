package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/aliyun/credentials-go/credentials"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

const emulatorHelp = `
Serves the built-in emulator of ECS, Cloud Config and STS (the one offline
replays use) as a local cloud, so that every command can be tried without an
account: replay --live [--apply], restore [--dry-run], pin, audit.

It loads the security groups of --groups (the live rules and the snapshot
Cloud Config recorded), listens on the loopback address of --listen only, and
prints on stdout the shell lines that point the other commands at it, one
"export NAME=VALUE" per line (the endpoints and a fresh random access key),
then "# ready". Paste those lines into a second shell, or in one shell:

    sg-remediation emulator --quiet > emu.env &
    until grep -q '^# ready' emu.env; do sleep 0.1; done; . ./emu.env

The state lives in memory: what the commands change (revoked, restored or
pinned rules) is kept until the emulator stops. It serves until interrupted
(Ctrl-C, SIGTERM), then exits 0. One line per call goes to stderr (--quiet:
none).

Exit status: 0 stopped by a signal, 1 the listener failed, 2 usage error or
unreadable groups file.
`

// defaultGroups is the groups file the emulator command loads by default,
// relative to the working directory (the repository's root).
const defaultGroups = "events/groups.json"

func (c *cli) emulator(ctx context.Context, args []string) int {
	const name = "emulator"
	fs := c.flagSet(name, "[flags]", emulatorHelp)
	groups := fs.String("groups", defaultGroups, "the security groups to serve (the fixture format of events/groups.json)")
	listen := fs.String("listen", "127.0.0.1:0", "loopback address and port to listen on (port 0: a free one)")
	aggregator := fs.String("aggregator", "", "also serve a Config account group with this id, owned by the key's account, every account of --groups a member (then printed as AGGREGATOR_ID)")
	memberRole := fs.String("member-role", "", "also create this RAM role in every account of --groups, assumable by the key's account (then printed as MEMBER_ROLE_NAME)")
	quiet := fs.Bool("quiet", false, "no line per call on stderr")
	pos, code, done := c.parse(fs, args)
	switch {
	case done:
		return code
	case len(pos) != 0:
		return c.usageError(name, "unexpected arguments: %s", strings.Join(pos, " "))
	}
	addr, err := loopbackAddr(*listen)
	if err != nil {
		return c.usageError(name, "--listen: %v", err)
	}

	var callLog io.Writer
	if !*quiet {
		callLog = c.stderr
	}
	emu, err := startEmulatorOpts(*groups, callLog)
	if err != nil {
		return c.fail(exitUsage, name, "%v", oneLine(err))
	}
	defer emu.Close()
	if err := emu.addAccountGroup(*aggregator, *memberRole); err != nil {
		return c.fail(exitUsage, name, "%v", err)
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return c.fail(exitFailed, name, "%v", err)
	}
	// The emulator's handler on the listener asked for; the handler checks
	// every request's signature against the key printed below.
	srv := &http.Server{Handler: emu.Server, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	url := "http://" + ln.Addr().String()
	vars := [][2]string{
		{"ECS_ENDPOINT", url},
		{"CONFIG_ENDPOINT", url},
		{"STS_ENDPOINT", url},
		{envAccessKeyID, emu.ak},
		{envAccessKeySecret, emu.secret},
	}
	if *aggregator != "" {
		vars = append(vars, [2]string{"AGGREGATOR_ID", *aggregator})
	}
	if *memberRole != "" {
		vars = append(vars, [2]string{"MEMBER_ROLE_NAME", *memberRole})
	}
	for _, kv := range vars {
		fmt.Fprintf(c.stdout, "export %s=%s\n", kv[0], kv[1])
	}
	fmt.Fprintln(c.stdout, "# ready")
	fmt.Fprintf(c.stderr, "emulator: serving %s on %s (account %s); stop with Ctrl-C\n", *groups, url, cloudtest.DefaultAccountID)

	select {
	case <-ctx.Done():
	case err := <-served:
		return c.fail(exitFailed, name, "%v", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
	}
	fmt.Fprintln(c.stderr, "emulator: stopped")
	return exitOK
}

// loopbackAddr checks that listen is HOST:PORT with a loopback HOST
// ("localhost" means 127.0.0.1): the emulator accepts a key it printed on
// stdout and must never be reachable from another machine.
func loopbackAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("%q: want 127.0.0.1:PORT", listen)
	}
	if strings.EqualFold(host, "localhost") {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() || ip.Zone() != "" {
		return "", fmt.Errorf("%q is not a loopback address: the emulator listens on 127.0.0.1 (or ::1) only", host)
	}
	if _, err := net.LookupPort("tcp", port); err != nil || strings.TrimLeft(port, "0123456789") != "" {
		return "", fmt.Errorf("port %q: want a number (0: a free port)", port)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// addAccountGroup adds, when asked, the Config account group and the member
// role of account-group mode over every account of the loaded groups.
func (e *emulator) addAccountGroup(aggregator, memberRole string) error {
	accounts := e.Accounts()
	if memberRole != "" {
		for _, a := range accounts {
			if err := e.AddRole(a, memberRole, cloudtest.DefaultAccountID); err != nil {
				return fmt.Errorf("--member-role: %w", err)
			}
		}
	}
	if aggregator != "" {
		var members []string
		for _, a := range accounts {
			if a != cloudtest.DefaultAccountID {
				members = append(members, a)
			}
		}
		if err := e.AddAggregator(aggregator, cloudtest.DefaultAccountID, members...); err != nil {
			return fmt.Errorf("--aggregator: %w", err)
		}
	}
	return nil
}

// emulator is a built-in emulator seeded with sample groups, with a fresh
// random key of its default account.
type emulator struct {
	*cloudtest.Server
	ak, secret string
	cred       credentials.Credential
}

// startEmulator starts an emulator seeded with the groups file.
func startEmulator(groups string) (*emulator, error) {
	return startEmulatorOpts(groups, nil)
}

// startEmulatorOpts is startEmulator with one line per call to callLog
// (nil: none).
func startEmulatorOpts(groups string, callLog io.Writer) (*emulator, error) {
	ak, secret := randomHex("emu-", 8), randomHex("", 16)
	cred, err := remediation.StaticCredential(ak, secret, "")
	if err != nil {
		return nil, err
	}
	srv, err := cloudtest.New(cloudtest.Options{AccessKeyID: ak, AccessKeySecret: secret, Log: callLog})
	if err != nil {
		return nil, err
	}
	if err := srv.LoadFile(groups); err != nil {
		srv.Close()
		return nil, err
	}
	return &emulator{Server: srv, ak: ak, secret: secret, cred: cred}, nil
}
