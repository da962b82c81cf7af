// Command main is the sg-remediation function: it closes security group rules
// that expose risky ports (SSH, RDP, MySQL by default) to the whole internet.
//
// Under Function Compute (FC_RUNTIME_API set) it serves the invocations Cloud
// Config sends (see handler.go). Anywhere else it is a command-line tool with
// the subcommands replay, restore, pin and emulator; run it with --help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sg-remediation/sg-remediation/remediation"
	"github.com/sg-remediation/sg-remediation/remediation/cloudtest"
)

// Exit codes of the command-line tool.
const (
	exitOK     = 0 // done; every resource or rule handled
	exitFailed = 1 // a resource failed to remediate, or a rule to restore or pin
	exitUsage  = 2 // bad flags or arguments, an invalid setting, an unreadable or invalid input file
)

// progName is the program's name in every message and help text, however
// the binary is called (bin/sg-remediation, main in the FC zip, go run).
const progName = "sg-remediation"

func main() {
	if os.Getenv("FC_RUNTIME_API") != "" {
		serve() // never returns
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	c := &cli{
		prog:   progName,
		getenv: os.Getenv,
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
	}
	code := c.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// cli is one run of the command-line tool. Everything it touches outside
// the process comes through these fields, so tests run it in-process.
type cli struct {
	prog           string
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer

	// emulatorHook, when set, is called with the offline emulator after the
	// replay ran and before it is closed (tests inspect its state).
	emulatorHook func(*cloudtest.Server)

	// flagsOnly makes a command's --help print only its flags, compactly
	// (the overview of help).
	flagsOnly bool
}

type command struct {
	name, args, summary string
	run                 func(c *cli, ctx context.Context, args []string) int
}

var commands = []command{
	{"replay", "[flags] EVENT.json", "run one invocation on a Config event, offline by default (--live: real cloud)", (*cli).replay},
	{"restore", "[flags] BACKUP.jsonl", "re-create revoked rules from the backup lines of the function's log", (*cli).restore},
	{"pin", "[flags] --region R --group sg-...", "keep one ingress rule pinned to your current public IP", (*cli).pin},
	{"audit", "[flags] --region R[,R...] | --all-regions", "read every security group and judge it as the function would, changing nothing", (*cli).audit},
	{"emulator", "[flags]", "serve the built-in emulator as a local cloud, to try every command without an account", (*cli).emulator},
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintf(w, `%[1]s closes security group rules that expose risky ports to the internet.

Under Function Compute (FC_RUNTIME_API set) it serves the invocations of Cloud
Config. Anywhere else it is a command-line tool; every command and its flags:

`, c.prog)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %s %s %s\n      %s\n", c.prog, cmd.name, cmd.args, cmd.summary)
		c.commandFlags(w, cmd)
	}
	fmt.Fprintf(w, `  %[1]s help [COMMAND]
      this text, or the full help of one command (also: %[1]s COMMAND --help)

Settings come from the environment, as under FC:
%[2]s
Credentials outside FC: ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET,
ALIBABA_CLOUD_SECURITY_TOKEN, or the rest of the credentials-go chain.

Exit status: 0 done, 1 a resource or rule failed, 2 usage error, invalid
setting or invalid input.
`, c.prog, remediation.SettingsUsage())
}

// commandFlags prints the flags of cmd, one per line, indented: the command
// is run with --help and flagsOnly, which prints them and does nothing else.
func (c *cli) commandFlags(w io.Writer, cmd command) {
	sub := &cli{prog: c.prog, getenv: c.getenv, stdin: strings.NewReader(""), stdout: w, stderr: io.Discard, flagsOnly: true}
	cmd.run(sub, context.Background(), []string{"--help"})
}

// run dispatches the command line and returns the exit code.
func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		c.usage(c.stderr)
		return exitUsage
	}
	switch name := args[0]; name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && name == "help" {
			return c.run(ctx, []string{args[1], "--help"})
		}
		c.usage(c.stdout)
		return exitOK
	default:
		for _, cmd := range commands {
			if cmd.name == name {
				return cmd.run(c, ctx, args[1:])
			}
		}
		fmt.Fprintf(c.stderr, "%s: unknown command %q\nRun '%s --help' for usage.\n", c.prog, name, c.prog)
		return exitUsage
	}
}

// flagSet is a subcommand's flags and its help text.
type flagSet struct {
	*flag.FlagSet
	synopsis, text string
}

// flagSet returns the FlagSet of a subcommand; parse prints its help.
func (c *cli) flagSet(name, synopsis, text string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr) // the flag package's own error messages
	fs.Usage = func() {}   // parse prints the help
	return &flagSet{FlagSet: fs, synopsis: synopsis, text: text}
}

// help prints the synopsis, the text and the flags to w; with flagsOnly,
// only the flags, one line each, wrapped.
func (c *cli) help(w io.Writer, fs *flagSet) {
	if c.flagsOnly {
		fs.VisitAll(func(f *flag.Flag) {
			arg, usage := flag.UnquoteUsage(f)
			head := "--" + f.Name
			if arg != "" {
				head += " " + arg
			}
			if def := f.DefValue; def != "" && def != "false" && def != "0" {
				usage += " (default " + def + ")"
			}
			for i, line := range wrap(head+": "+usage, 70) {
				indent := "        "
				if i > 0 {
					indent += "    "
				}
				fmt.Fprintf(w, "%s%s\n", indent, line)
			}
		})
		return
	}
	fmt.Fprintf(w, "Usage: %s %s %s\n\n%s\nFlags:\n", c.prog, fs.Name(), fs.synopsis, strings.TrimLeft(fs.text, "\n"))
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(c.stderr)
}

// parse parses a subcommand's arguments, flags before or after the
// positional ones ("--" ends the flags). It returns the positional
// arguments, or done with the exit code when the command must stop: --help
// (help on stdout, 0) or a bad flag (message on stderr, 2).
func (c *cli) parse(fs *flagSet, args []string) (pos []string, code int, done bool) {
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.help(c.stdout, fs)
			return nil, exitOK, true
		}
		if err != nil {
			// The flag package printed the error.
			fmt.Fprintf(c.stderr, "Run '%s %s --help' for usage.\n", c.prog, fs.Name())
			return nil, exitUsage, true
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, false
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), 0, false
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageError reports a bad command line and returns exitUsage.
func (c *cli) usageError(cmd, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "%s %s: %s\nRun '%s %s --help' for usage.\n", c.prog, cmd, fmt.Sprintf(format, args...), c.prog, cmd)
	return exitUsage
}

// fail reports an error and returns code.
func (c *cli) fail(code int, cmd, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "%s %s: %s\n", c.prog, cmd, fmt.Sprintf(format, args...))
	return code
}
