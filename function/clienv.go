package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/credentials-go/credentials"

	"github.com/sg-remediation/sg-remediation/remediation"
)

// Credentials outside FC (contract section 4).
const (
	envAccessKeyID     = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	envAccessKeySecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	envSecurityToken   = "ALIBABA_CLOUD_SECURITY_TOKEN"
)

// credential returns the command-line tool's credentials: the
// ALIBABA_CLOUD_* variables of c's environment when set, else the rest of
// the credentials-go default chain (OIDC, CLI and profile files, the ECS
// instance's RAM role unless ALIBABA_CLOUD_ECS_METADATA_DISABLED=true). The chain is resolved once, here,
// so that a missing credential is reported before any cloud call, and
// wrapped as a static credential: the chain's provider is not safe for
// concurrent use by the remediation's workers.
func (c *cli) credential() (credentials.Credential, error) {
	ak, secret := c.getenv(envAccessKeyID), c.getenv(envAccessKeySecret)
	if ak != "" || secret != "" {
		if ak == "" || secret == "" {
			return nil, fmt.Errorf("set both %s and %s", envAccessKeyID, envAccessKeySecret)
		}
		return remediation.StaticCredential(ak, secret, c.getenv(envSecurityToken))
	}
	// The chain's own error lists every provider it tried, over several
	// lines and with the SDK's typos: not for a person. One line that says
	// what to do instead.
	if chain, err := credentials.NewCredential(nil); err == nil {
		if cm, err := chain.GetCredential(); err == nil && cm != nil && tea.StringValue(cm.AccessKeyId) != "" {
			return remediation.StaticCredential(tea.StringValue(cm.AccessKeyId), tea.StringValue(cm.AccessKeySecret), tea.StringValue(cm.SecurityToken))
		}
	}
	return nil, fmt.Errorf("no credentials: set %s and %s (and %s with STS credentials), or configure an Alibaba Cloud CLI profile; to try without an account, start '%s emulator' and eval the lines it prints",
		envAccessKeyID, envAccessKeySecret, envSecurityToken, progName)
}

// logTo returns the JSON logger of a command (the function's log lines,
// backups included): to path when set ("-" is stdout), else to stderr. The
// close function closes the file.
func (c *cli) logTo(path string) (*slog.Logger, func() error, error) {
	var w io.Writer = c.stderr
	closeFn := func() error { return nil }
	switch path {
	case "":
	case "-":
		w = c.stdout
	default:
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, err
		}
		w, closeFn = f, f.Close
	}
	return slog.New(slog.NewJSONHandler(w, nil)), closeFn, nil
}

// readInput reads a file, or stdin for "-", refusing more than limit bytes.
func (c *cli) readInput(path string, limit int64) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = c.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// cloudAndLog builds, for restore and pin, the SDK adapter with the standard
// credentials and the settings' endpoints, and the log (see logTo).
func (c *cli) cloudAndLog(s remediation.Settings, logPath string) (*remediation.Cloud, *slog.Logger, func() error, error) {
	cred, err := c.credential()
	if err != nil {
		return nil, nil, nil, err
	}
	cloud, err := remediation.NewCloud(cred, s)
	if err != nil {
		return nil, nil, nil, err
	}
	log, closeLog, err := c.logTo(logPath)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("log file: %w", err)
	}
	return cloud, log, closeLog, nil
}
