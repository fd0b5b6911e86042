package caddymodule

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/oidcaddy/oidcaddy/provider"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "oidc-hash-password",
		Usage: "[--algorithm <argon2id|bcrypt>] [--bcrypt-cost <n>] [--argon2id-memory <KiB>] [--argon2id-time <n>] [--argon2id-threads <n>]",
		Short: "Hashes a password for an oidc_provider user",
		Long: fmt.Sprintf(`
Hashes a password for the password_hash of an oidc_provider user (in a
user block or in users_file) and prints only the hash on standard output.

The password is read from standard input: at a terminal it is asked for
twice without echo; otherwise the first line of standard input is used
(one trailing newline removed). It is never taken from the command line,
where other users of the machine could see it in the process list.

--algorithm is argon2id (default) or bcrypt.
  argon2id: --argon2id-memory KiB (default %d, i.e. 19 MiB), --argon2id-time
  passes (default %d), --argon2id-threads lanes (default %d): OWASP's first
  recommended setting, tens of milliseconds per sign-in.
  bcrypt: --bcrypt-cost (default %d; each step doubles the time; Caddy's
  own hash-password defaults to 14, which takes 1-4 s per sign-in on small
  machines).

Give every user the same algorithm and parameters: the provider checks an
unknown login against a hash with the parameters of a configured user, and
warns at start when users' parameters differ, because different costs let
an attacker tell some known logins from unknown ones by response time.

Example:
  caddy oidc-hash-password                 # asks twice
  printf '%%s\n' "$PASSWORD" | caddy oidc-hash-password --algorithm bcrypt
`, provider.DefaultArgon2idMemoryKiB, provider.DefaultArgon2idTime, provider.DefaultArgon2idThreads, provider.DefaultBcryptCost),
		CobraFunc: setUpHashPasswordCommand,
	})
}

// maxPasswordBytes matches the longest password the login form accepts.
const maxPasswordBytes = 1024

func setUpHashPasswordCommand(cmd *cobra.Command) {
	cmd.Flags().String("algorithm", provider.AlgorithmArgon2id, "Hash algorithm: argon2id or bcrypt")
	cmd.Flags().Int("bcrypt-cost", provider.DefaultBcryptCost, "bcrypt cost (4 to 16)")
	cmd.Flags().Uint32("argon2id-memory", provider.DefaultArgon2idMemoryKiB, "argon2id memory in KiB")
	cmd.Flags().Uint32("argon2id-time", provider.DefaultArgon2idTime, "argon2id passes")
	cmd.Flags().Uint8("argon2id-threads", provider.DefaultArgon2idThreads, "argon2id lanes")
	// No positional arguments: a password on the command line would be
	// visible to every user of the machine and kept in shell history.
	cmd.Args = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return errors.New("the password is read from standard input, never from the command line")
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		f := cmd.Flags()
		var o provider.PasswordHashOptions
		var err error
		o.Algorithm, _ = f.GetString("algorithm")
		if o.Algorithm != provider.AlgorithmArgon2id && o.Algorithm != provider.AlgorithmBcrypt {
			return fmt.Errorf("--algorithm must be argon2id or bcrypt, got %q", o.Algorithm)
		}
		o.BcryptCost, _ = f.GetInt("bcrypt-cost")
		o.Argon2idMemoryKiB, _ = f.GetUint32("argon2id-memory")
		o.Argon2idTime, _ = f.GetUint32("argon2id-time")
		o.Argon2idThreads, _ = f.GetUint8("argon2id-threads")
		if o.BcryptCost == 0 || o.Argon2idMemoryKiB == 0 || o.Argon2idTime == 0 || o.Argon2idThreads == 0 {
			return errors.New("--bcrypt-cost and the --argon2id-* values must be positive")
		}
		password, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		hash, err := provider.HashPassword(password, o)
		clear(password)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(cmd.OutOrStdout(), hash)
		return err
	}
}

// readPassword asks twice without echo when in is a terminal, and reads
// the first line otherwise. Its errors never hold the password.
func readPassword(in io.Reader, prompts io.Writer) ([]byte, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return promptPassword(int(f.Fd()), prompts)
	}
	r := bufio.NewReaderSize(in, maxPasswordBytes+2)
	line, err := r.ReadSlice('\n')
	if err != nil && err != io.EOF {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("the password is longer than %d bytes, the most the login page accepts", maxPasswordBytes)
		}
		return nil, fmt.Errorf("reading the password from standard input: %w", err)
	}
	password := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	return checkPassword(bytes.Clone(password))
}

func promptPassword(fd int, prompts io.Writer) ([]byte, error) {
	fmt.Fprint(prompts, "Password: ")
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(prompts)
	if err != nil {
		return nil, fmt.Errorf("reading the password: %w", err)
	}
	fmt.Fprint(prompts, "Confirm password: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(prompts)
	if err != nil {
		return nil, fmt.Errorf("reading the password: %w", err)
	}
	defer clear(second)
	if !bytes.Equal(first, second) {
		return nil, errors.New("the passwords do not match")
	}
	return checkPassword(first)
}

func checkPassword(p []byte) ([]byte, error) {
	switch {
	case len(p) == 0:
		return nil, errors.New("the password is empty (give it on standard input, or at the prompt)")
	case len(p) > maxPasswordBytes:
		return nil, fmt.Errorf("the password is longer than %d bytes, the most the login page accepts", maxPasswordBytes)
	case bytes.ContainsAny(p, "\r\n"):
		return nil, errors.New("the password must be one line")
	}
	return p, nil
}
