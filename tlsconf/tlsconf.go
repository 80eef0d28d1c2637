// Package tlsconf builds the *tls.Config of a service from its SSL
// parameters (docs/reference.md §2.7, §3.11, §7.5–§7.9, §7.31, §7.32): the client side
// (the certificates the MMP offers on SSLPorts and after STARTTLS/STLS,
// client-certificate verification) and the store side (SSLBacksidePort).
//
// Go cannot read the NSS databases (cert8.db, key3.db, secmod.db) the Sun
// MMP used, so the certificates come from the Go-specific SSLCertPEM and
// SSLKeyPEM; the NSS parameters are accepted and checked, and when they
// point at NSS databases without SSLCertPEM the error explains how to
// export the certificate and key to PEM (see docs/tls.md).
//
// Supported private keys: unencrypted PKCS#1, SEC 1 (EC) and PKCS#8 PEM,
// and the legacy OpenSSL encryption ("Proc-Type: 4,ENCRYPTED" with
// DES-EDE3-CBC or AES-128/192/256-CBC, as `openssl rsa -aes256` or
// `openssl ec -aes256` write), opened with the password of sslpassword.conf
// (SSLKeyPasswdFile). Encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY") is not
// supported by Go's standard library: the error says how to convert it.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// Settings are the SSL parameters of a service, as plain values.
type Settings struct {
	Enable        bool                // SSLEnable
	Ports         []cfgfmt.ListenAddr // SSLPorts
	CertPEM       []string            // SSLCertPEM
	KeyPEM        []string            // SSLKeyPEM, one per CertPEM
	KeyPasswdFile string              // SSLKeyPasswdFile
	KeyPasswd     string              // SSLKeyPasswd (Netscape: the password itself); used when no file gives one
	CipherSpecs   []string            // SSLCipherSpecs ("all" or names)
	// KeyExchangeGroups is SSLKeyExchangeGroups ("default" or names).
	KeyExchangeGroups []string
	ClientCAPEM       string       // SSLClientCAPEM
	BacksidePort      int          // SSLBacksidePort; 0 = clear text to the stores
	Store             StoreOptions // store-side verification
	NSS               NSSSettings  // the legacy NSS parameters
}

// NSSSettings are the parameters that named NSS databases in the Sun MMP.
// They are only checked: Go cannot use them.
type NSSSettings struct {
	CacheDir   string   // SSLCacheDir: the directory of the databases
	CertPrefix string   // SSLCertPrefix: file-name prefix of cert8.db/key3.db
	CertFile   string   // SSLCertFile (Netscape, Sun 5): the certificate database file itself
	Nicknames  []string // SSLCertNicknames: one certificate each
	KeyFile    string   // SSLKeyFile: key3.db
	SecmodFile string   // SSLSecmodFile: secmod.db
}

// StoreOptions control TLS to the stores (SSLBacksidePort): the Go
// parameters SSLBacksideCAPEM and SSLBacksideVerify.
type StoreOptions struct {
	// CAFile holds the PEM CA certificates store certificates must chain
	// to. Empty means the system's roots.
	CAFile string
	// NoVerify accepts any store certificate (SSLBacksideVerify no): the
	// link is encrypted but not authenticated. Only for stores with
	// self-signed certificates on a trusted network.
	NoVerify bool
}

// Config is the TLS setup of a service.
type Config struct {
	Enable       bool                // SSLEnable: STARTTLS/STLS offered, SSLPorts honoured
	Ports        []cfgfmt.ListenAddr // SSLPorts
	BacksidePort int                 // SSLBacksidePort; 0 = clear text to the stores

	// Client is the configuration for client connections; nil when TLS
	// is off or could not be set up (then Enable is still true and SSL
	// ports refuse their connections).
	Client *tls.Config
	// Store is the template for store connections (ServerName is set per
	// store); nil when BacksidePort is 0.
	Store *tls.Config

	// Warnings are what was accepted but not used as written, such as
	// the insecure Netscape cipher names, each with what is used instead;
	// for the daemon log and the command line.
	Warnings []string
}

// Implicit reports whether a connection accepted on local starts with a
// TLS handshake: SSLEnable and local matches SSLPorts (docs/reference.md §3.3).
func (c *Config) Implicit(local netip.AddrPort) bool {
	return c != nil && c.Enable && cfgfmt.MatchPortSpec(c.Ports, local)
}

// StartTLS reports whether STARTTLS/STLS may be offered: SSLEnable and a
// usable certificate.
func (c *Config) StartTLS() bool { return c != nil && c.Enable && c.Client != nil }

// FromValues reads the SSL parameters of a service. store carries the
// store-side options that have no parameter yet.
func FromValues(v *config.Values, store StoreOptions) Settings {
	return Settings{
		Enable:            config.Get(v, param.SSLEnable),
		Ports:             config.Get(v, param.SSLPorts),
		CertPEM:           config.Get(v, param.SSLCertPEM),
		KeyPEM:            config.Get(v, param.SSLKeyPEM),
		KeyPasswdFile:     config.Get(v, param.SSLKeyPasswdFile),
		KeyPasswd:         config.Get(v, param.SSLKeyPasswd),
		CipherSpecs:       config.Get(v, param.SSLCipherSpecs),
		KeyExchangeGroups: config.Get(v, param.SSLKeyExchangeGroups),
		ClientCAPEM:       config.Get(v, param.SSLClientCAPEM),
		BacksidePort:      config.Get(v, param.SSLBacksidePort),
		Store:             store,
		NSS: NSSSettings{
			CacheDir:   config.Get(v, param.SSLCacheDir),
			CertPrefix: config.Get(v, param.SSLCertPrefix),
			CertFile:   config.Get(v, param.SSLCertFile),
			Nicknames:  config.Get(v, param.SSLCertNicknames),
			KeyFile:    config.Get(v, param.SSLKeyFile),
			SecmodFile: config.Get(v, param.SSLSecmodFile),
		},
	}
}

// LoadService is Load for a configured service: the store options come
// from SSLBacksideCAPEM and SSLBacksideVerify, and relative file names are
// taken relative to the instance directory, as the check command does.
func LoadService(svc *config.Service) (*Config, error) {
	v := svc.Values
	s := FromValues(v, StoreOptions{
		CAFile:   config.Get(v, param.SSLBacksideCAPEM),
		NoVerify: !config.Get(v, param.SSLBacksideVerify),
	})
	// The slices are the service's own values: resolve copies, or a
	// second call (the daemon's, after the check's) resolves them again.
	s.CertPEM, s.KeyPEM = slices.Clone(s.CertPEM), slices.Clone(s.KeyPEM)
	for i := range s.CertPEM {
		s.CertPEM[i] = svc.Path(s.CertPEM[i])
	}
	for i := range s.KeyPEM {
		s.KeyPEM[i] = svc.Path(s.KeyPEM[i])
	}
	for _, p := range []*string{&s.KeyPasswdFile, &s.ClientCAPEM, &s.Store.CAFile, &s.NSS.CacheDir, &s.NSS.CertFile, &s.NSS.KeyFile, &s.NSS.SecmodFile} {
		*p = svc.Path(*p)
	}
	return Build(s)
}

// Load reads every certificate and key of a service's values: what the
// daemon calls at start and again on refresh, so that renewed certificates
// are picked up. The returned Config is never nil: on error it says
// whether TLS was wanted (Enable, Ports) with Client or Store nil, so that
// SSL ports are refused rather than served in clear text.
func Load(v *config.Values, store StoreOptions) (*Config, error) {
	return Build(FromValues(v, store))
}

// Build makes the Config of settings.
func Build(s Settings) (*Config, error) {
	c := &Config{Enable: s.Enable, Ports: s.Ports, BacksidePort: s.BacksidePort}
	var errs []error
	suites, warnings, err := CipherSuites(s.CipherSpecs)
	if err != nil {
		errs = append(errs, err)
	}
	c.Warnings = warnings
	groups, err := KeyExchangeGroups(s.KeyExchangeGroups)
	if err != nil {
		errs = append(errs, err)
	}
	if s.Enable || len(s.CertPEM) > 0 {
		cc, err := ServerConfig(s, suites)
		if err != nil {
			errs = append(errs, err)
		} else if s.Enable {
			cc.CurvePreferences = groups
			c.Client = cc
		}
	}
	if s.BacksidePort > 0 {
		sc, err := StoreConfig(s.Store, suites)
		if err != nil {
			errs = append(errs, err)
		} else {
			sc.CurvePreferences = groups
			c.Store = sc
		}
	}
	if len(errs) > 0 {
		c.Client = nil
		return c, errors.Join(errs...)
	}
	return c, nil
}

// ServerConfig is the configuration the MMP uses towards its clients:
// the SSLCertPEM/SSLKeyPEM pairs (several are chosen by SNI, the first is
// the default), TLS 1.2 at least, the cipher suites (nil = Go's
// defaults; Build adds the key exchange groups), and with SSLClientCAPEM the verification of client
// certificates given (VerifyClientCertIfGiven).
func ServerConfig(s Settings, suites []uint16) (*tls.Config, error) {
	if len(s.CertPEM) == 0 {
		if err := checkNSS(s); err != nil {
			return nil, err
		}
		return nil, errors.New("SSLEnable is on but SSLCertPEM (and SSLKeyPEM) name no certificate; see docs/tls.md")
	}
	if len(s.KeyPEM) != len(s.CertPEM) {
		return nil, fmt.Errorf("SSLKeyPEM: %d key files for %d SSLCertPEM files; give one key per certificate, in the same order",
			len(s.KeyPEM), len(s.CertPEM))
	}
	password, havePassword, err := keyPassword(s.KeyPasswdFile)
	if err != nil {
		return nil, err
	}
	if !havePassword && s.KeyPasswd != "" {
		password, havePassword = s.KeyPasswd, true
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: suites}
	for i, cf := range s.CertPEM {
		cert, err := LoadKeyPair(cf, s.KeyPEM[i], password, havePassword)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = append(cfg.Certificates, cert)
	}
	if s.ClientCAPEM != "" {
		pool, err := loadPool("SSLClientCAPEM", s.ClientCAPEM)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// StoreConfig is the template for TLS connections to the stores.
func StoreConfig(o StoreOptions, suites []uint16) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: suites, InsecureSkipVerify: o.NoVerify}
	if o.CAFile != "" {
		pool, err := loadPool("SSLBacksideCAPEM", o.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// ForStore returns the configuration to connect to one store: the
// template with ServerName set to the mail host, which the store's
// certificate must name.
func (c *Config) ForStore(host string) *tls.Config {
	if c == nil || c.Store == nil {
		return nil
	}
	cfg := c.Store.Clone()
	cfg.ServerName = host
	return cfg
}

func loadPool(name, file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", name, file)
	}
	return pool, nil
}

// keyPassword reads the key password from sslpassword.conf: that of the
// Internal (Software) Token, or of the first module (docs/reference.md §3.11).
func keyPassword(file string) (string, bool, error) {
	if file == "" {
		return "", false, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// The Sun default names a file most installations lack;
			// only an encrypted key needs it, and then says so.
			return "", false, nil
		}
		return "", false, fmt.Errorf("SSLKeyPasswdFile: %w", err)
	}
	modules, order, errs := cfgfmt.ParsePasswordFile(file, data)
	if len(errs) > 0 {
		return "", false, fmt.Errorf("SSLKeyPasswdFile: %w", errors.Join(errs...))
	}
	pw, ok := cfgfmt.KeyPassword(modules, order)
	return pw, ok, nil
}

// LoadKeyPair reads a PEM certificate chain and its key, decrypting a
// legacy-encrypted key with password. Errors name the parameter and the
// file but never contain the password.
func LoadKeyPair(certFile, keyFile, password string, havePassword bool) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("SSLCertPEM: %w", err)
	}
	keyData, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("SSLKeyPEM: %w", err)
	}
	keyPEM, err := decryptKey(keyFile, keyData, password, havePassword)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("SSLCertPEM %s with SSLKeyPEM %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

// decryptKey returns the key block of a PEM file in clear.
func decryptKey(file string, data []byte, password string, havePassword bool) ([]byte, error) {
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("SSLKeyPEM: %s holds no PEM private key", file)
		}
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("SSLKeyPEM: %s is an encrypted PKCS#8 key, which Go cannot open; convert it to the legacy "+
				"encrypted form with `openssl pkey -in %s -traditional -aes256 -out mmp.key` (or remove the encryption "+
				"with `openssl pkey -in %s -out mmp.key` and protect the file with its permissions)", file, file, file)
		case !strings.HasSuffix(b.Type, "PRIVATE KEY"):
			continue
		//lint:ignore SA1019 legacy encrypted PEM is what sslpassword.conf is for
		//lint:ignore SA1019 Sun sites have keys in the legacy encrypted PEM form; they are read once, locally, never over a network.
		case x509.IsEncryptedPEMBlock(b):
			if !havePassword {
				return nil, fmt.Errorf("SSLKeyPEM: %s is encrypted but SSLKeyPasswdFile names no readable password file", file)
			}
			//lint:ignore SA1019 see above: the legacy form is what migrated sites have.
			der, err := x509.DecryptPEMBlock(b, []byte(password))
			// The legacy format has no integrity check: a wrong password
			// passes the padding check about once in 256 tries and gives
			// garbage, so a key that does not parse is a wrong password too.
			if errors.Is(err, x509.IncorrectPasswordError) || err == nil && !parsesAsKey(der) {
				return nil, fmt.Errorf("SSLKeyPEM: %s: the password from SSLKeyPasswdFile does not open the key", file)
			}
			if err != nil {
				return nil, fmt.Errorf("SSLKeyPEM: %s: %w", file, err)
			}
			return pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: der}), nil
		default:
			return pem.EncodeToMemory(b), nil
		}
	}
}

// parsesAsKey reports whether DER is a private key in one of the forms
// crypto/tls reads (PKCS#1, PKCS#8, SEC 1).
func parsesAsKey(der []byte) bool {
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return true
	}
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return true
	}
	_, err := x509.ParseECPrivateKey(der)
	return err == nil
}

// nssFiles are the NSS database files the Sun MMP used (cert7/8 and key3
// are the old Berkeley DB format, cert9/key4 the SQLite one).
var nssFiles = []string{"cert9.db", "key4.db", "cert8.db", "key3.db", "cert7.db"}

// checkNSS explains, when the NSS parameters point at NSS databases, how
// to export the certificates and keys to PEM (docs/reference.md §7.32). The database is
// SSLCacheDir with SSLCertPrefix (Sun 6), or the file SSLCertFile names
// (Netscape 4.x, Sun 5), whose name gives the prefix: mmp-cert7.db is
// cert7.db with the prefix mmp-.
func checkNSS(s Settings) error {
	n := s.NSS
	dir, prefix := n.CacheDir, n.CertPrefix
	var found []string
	if n.CertFile != "" && isFile(n.CertFile) {
		found = append(found, n.CertFile)
		if dir == "" {
			dir = filepath.Dir(n.CertFile)
			base := filepath.Base(n.CertFile)
			for _, f := range []string{"cert9.db", "cert8.db", "cert7.db"} {
				if p, ok := strings.CutSuffix(base, f); ok && prefix == "" {
					prefix = p
				}
			}
		}
	}
	if dir == "" && n.KeyFile != "" {
		dir = filepath.Dir(n.KeyFile)
	}
	if dir != "" {
		for _, f := range nssFiles {
			if p := filepath.Join(dir, prefix+f); isFile(p) && !slices.Contains(found, p) {
				found = append(found, p)
			}
		}
	}
	for _, p := range []string{n.KeyFile, n.SecmodFile} {
		if p != "" && isFile(p) && !slices.Contains(found, p) {
			found = append(found, p)
		}
	}
	if len(found) == 0 {
		return nil
	}
	nicknames := n.Nicknames
	if len(nicknames) == 0 {
		nicknames = []string{"Server-Cert"}
	}
	return &NSSError{Found: found, Dir: dir, Prefix: prefix, Nicknames: nicknames}
}

func isFile(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

// NSSError says that SSLEnable is on, SSLCertPEM is not set, and the NSS
// parameters name NSS databases, which Go cannot read. Its text is the
// conversion recipe.
type NSSError struct {
	Found     []string // the NSS files found
	Dir       string   // SSLCacheDir (or the directory of SSLCertFile or SSLKeyFile)
	Prefix    string   // SSLCertPrefix, or the prefix in SSLCertFile's name
	Nicknames []string // SSLCertNicknames, default Server-Cert
}

// DBArg is the -d argument of certutil and pk12util: "sql:DIR" for the
// SQLite databases, "dbm:DIR" for the old cert8/key3 ones.
func (e *NSSError) DBArg() string {
	for _, f := range e.Found {
		if strings.HasSuffix(f, "cert9.db") || strings.HasSuffix(f, "key4.db") {
			return "sql:" + e.Dir
		}
	}
	return "dbm:" + e.Dir
}

// files is the base name of the files exported for the i-th nickname:
// mmp for a single certificate, mmp1, mmp2 ... for several.
func (e *NSSError) files(i int) string {
	if len(e.Nicknames) == 1 {
		return "mmp"
	}
	return fmt.Sprintf("mmp%d", i+1)
}

// PEMFiles are the certificate and key files the recipe writes, in the
// order of the nicknames: the values of SSLCertPEM and SSLKeyPEM.
func (e *NSSError) PEMFiles() (certs, keys []string) {
	for i := range e.Nicknames {
		certs = append(certs, e.files(i)+".crt")
		keys = append(keys, e.files(i)+".key")
	}
	return certs, keys
}

// Commands are the shell commands of the recipe, in order: for each
// nickname, its export to PKCS#12 and the split into certificate chain
// and key.
func (e *NSSError) Commands() []string {
	prefix := ""
	if e.Prefix != "" {
		prefix = fmt.Sprintf(" -P %q", e.Prefix)
	}
	var cmds []string
	for i, nick := range e.Nicknames {
		f := e.files(i)
		cmds = append(cmds,
			fmt.Sprintf("pk12util -o %s.p12 -n %q -d %s%s", f, nick, e.DBArg(), prefix),
			fmt.Sprintf("openssl pkcs12 -in %s.p12 -nokeys -out %s.crt", f, f),
			fmt.Sprintf("openssl pkcs12 -in %s.p12 -nocerts -nodes -out %s.key", f, f))
	}
	return cmds
}

func (e *NSSError) Error() string {
	var b strings.Builder
	var quoted []string
	for _, n := range e.Nicknames {
		quoted = append(quoted, fmt.Sprintf("%q", n))
	}
	what := "certificate " + quoted[0]
	if len(quoted) > 1 {
		what = "certificates " + strings.Join(quoted, ", ")
	}
	fmt.Fprintf(&b, "SSLEnable is on but SSLCertPEM is not set, and SSLCacheDir/SSLCertPrefix/SSLCertFile/SSLKeyFile name NSS databases (%s), "+
		"which the Go MMP cannot read. Export %s to PEM (Debian package libnss3-tools; pk12util asks for "+
		"the database password, the one in sslpassword.conf, and for a password for the export file):",
		strings.Join(e.Found, ", "), what)
	for i, c := range e.Commands() {
		fmt.Fprintf(&b, " (%d) %s;", i+1, c)
	}
	certs, keys := e.PEMFiles()
	fmt.Fprintf(&b, " then chmod 600 %s and set SSLCertPEM to %s and SSLKeyPEM to %s. ",
		strings.Join(keys, " "), strings.Join(certs, " "), strings.Join(keys, " "))
	b.WriteString("List the nicknames with `certutil -L -d " + e.DBArg() + "`. See docs/tls.md")
	return b.String()
}
