package param

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// paramCase is what the specification says about one parameter, written
// out independently of the table so that the test checks the table.
type paramCase struct {
	where    Where
	def      string           // Default
	defaults map[Where]string // per-context defaults to check with DefaultFor
	aliases  []string         // each must find the parameter
	valid    []string         // each must parse
	invalid  []string         // each must fail
}

var cases = map[string]paramCase{
	// §2.1
	"ServiceList": {where: A, def: "ImapProxyAService@143 PopProxyAService@110",
		valid:   []string{"/opt/SUNWmsgsr/lib/ImapProxyAService@143|993 /opt/SUNWmsgsr/lib/PopProxyAService@110", "ImapProxyAService:ImapProxyAService:partner@10.0.0.6:143"},
		invalid: []string{"ImapProxyAService", "FooAService@143", "ImapProxyAService@99999"}},
	"NumThreads": {where: A | N4, def: "0", valid: []string{"0", "4"}, invalid: []string{"-1", "four"}},
	"BeTheUser":  {where: A | N4, valid: []string{"mailsrv"}, invalid: []string{"mail srv"}},
	"BeTheGroup": {where: A | N4, valid: []string{"mail"}, invalid: []string{"a:b"}},
	"LogDir":     {where: A | ips | N4, def: "log", defaults: map[Where]string{N4: "."}, valid: []string{"/var/log/mmp"}, invalid: []string{"/var/log\n/x"}},
	"LogLevel":   {where: A | ips | N4, def: "1", valid: []string{"0", "10"}, invalid: []string{"11", "-1", "x"}},

	"MetricsListen":          {where: A | N4, valid: []string{"127.0.0.1:9110", "[::1]:9110"}, invalid: []string{"9110", "127.0.0.1:99999"}},
	"MaxConnections":         {where: A | N4, def: "0", valid: []string{"0", "5000"}, invalid: []string{"-1", "many"}},
	"MaxPreLoginConnections": {where: A | N4, def: "0", valid: []string{"0", "200"}, invalid: []string{"-1", "1e3"}},
	"FleetRedis": {where: A | N4, valid: []string{"redis://127.0.0.1:6379", "rediss://:pw@redis.example:6380/2", "redis-sentinel://s1:26379,s2:26379/mymaster/1", "redis-cluster://n1:7000,n2:7000", ""},
		invalid: []string{"http://h", "redis://h1,h2", "redis-sentinel://s1:26379", "redis://h:99999", "redis-cluster://n1/3", "redis://h?db=1"}},
	"FleetCallTimeout": {where: A | N4, def: "50", valid: []string{"1", "200"}, invalid: []string{"0", "50ms"}},
	"FleetFailClosed":  {where: A | N4, def: "no", valid: []string{"yes"}, invalid: []string{"closed"}},
	"FleetLeaseTime":   {where: A | N4, def: "60", valid: []string{"3", "600"}, invalid: []string{"2", "1m"}},
	"FleetKeyPrefix":   {where: A | N4, def: "mmp", valid: []string{"mmp-eu"}, invalid: []string{"a b", "a:b"}},
	// §2.2
	"LdapUrl": {where: ips | V, def: "ldap://localhost/o=internet", aliases: []string{"LdapURL", "ldapurl"},
		valid:   []string{"ldap://ldap1.varrius.com ldap2.varrius.com/o=internet", "ldap://h1/o=internet ldap://h2/o=internet", "ldaps://h:636/o=x"},
		invalid: []string{"http://h/o=x", "ldap://h:99999/o=x", ""}},
	"BindDN":              {where: ips | V | N4, valid: []string{"cn=Directory Manager", ""}, invalid: []string{"Directory Manager"}},
	"BindPass":            {where: ips | V | N4, aliases: []string{"BindPassword"}, valid: []string{"s3cr3t pass"}, invalid: []string{"a\r\nb"}},
	"LdapStartTLS":        {where: A | ips, def: "no", valid: []string{"yes"}, invalid: []string{"tls"}},
	"LdapCacheSize":       {where: I | P | V, def: "10000", valid: []string{"0", "500"}, invalid: []string{"-5"}},
	"LdapCacheTTL":        {where: I | P | V, def: "900", valid: []string{"60"}, invalid: []string{"1m"}},
	"LdapRefreshInterval": {where: ips, def: "2100", valid: []string{"600"}, invalid: []string{"soon"}},
	"UserGroupDN":         {where: ips, valid: []string{"o=internet"}, invalid: []string{"internet"}},
	"CertMapDN":           {where: ips, aliases: []string{"CertmapDN"}, valid: []string{"o=internet"}, invalid: []string{"=x"}},
	"HostedDomains":       {where: I | P | V, def: "yes", defaults: map[Where]string{N4: "no", I: "yes"}, valid: []string{"no", "0", "off", "True"}, invalid: []string{"maybe"}},
	"LdapSchemaLevel":     {where: ips | V, def: "1", valid: []string{"2"}, invalid: []string{"3"}},
	"DefaultDomain":       {where: I | P | V, valid: []string{"siroe.com"}, invalid: []string{"siroe..com", "a b.com"}},
	"VDomain":             {where: V, valid: []string{"airius.com"}, invalid: []string{"@airius.com"}},
	"SearchFormat": {where: I | P | V | N4, def: "(uid=%s)", defaults: map[Where]string{N4: "uid=%s"}, aliases: []string{"UidSearch"},
		valid: []string{"(&(uid=%U)(mailHost=*))", "(mail=%o)", "(|(uid=%s)(cn=%D))", "uid=%C%S%V%%"}, invalid: []string{"(uid=%Q)", "(uid=%"}},
	"DomainSearchFormat":          {where: I | P | V, def: "(uid=%U)", valid: []string{"(mail=%U@%V)"}, invalid: []string{"(uid=%A[uid])"}},
	"MailHostAttrs":               {where: I | P | V | N4, def: "mailHost", valid: []string{"mailHost myBackupHost", "mailHost,mailAlternateHost"}, invalid: []string{"mail(Host)"}},
	"VirtualDomainFile":           {where: ips | N4, valid: []string{"vdmap.cfg"}, invalid: []string{"a\x00b"}},
	"VirtualDomainDelim":          {where: I | P | V | N4, def: "@", aliases: []string{"DomainDelim"}, valid: []string{"@+%"}, invalid: []string{"@ +", ""}},
	"CanonicalVirtualDomainDelim": {where: I | P | V | N4, def: "@", defaults: map[Where]string{N4: "+", I: "@"}, valid: []string{"+"}, invalid: []string{"@+", ""}},
	// §2.3
	"PreAuth":                      {where: I | P | V | N4, def: "no", valid: []string{"yes"}, invalid: []string{"sometimes"}},
	"AuthCacheSize":                {where: I | P | V, def: "10000", valid: []string{"1"}, invalid: []string{"1e3"}},
	"AuthCacheTTL":                 {where: I | P | V, def: "900", aliases: []string{"AuthCacheSizeTTL"}, valid: []string{"0"}, invalid: []string{"-1"}},
	"ReplayFormat":                 {where: I | P | V, def: "%U", defaults: map[Where]string{N4: "%s", P: "%U"}, valid: []string{"%A[uid]@%V", "%s", "%o"}, invalid: []string{"%A", "%C"}},
	"UidAttr":                      {where: N4, valid: []string{"uid"}, invalid: []string{"u id"}},
	"StoreAdmin":                   {where: I | P | V | N4, valid: []string{"mmpstore"}, invalid: []string{"mmp store"}},
	"StoreAdminPass":               {where: I | P | V | N4, valid: []string{"x y"}, invalid: []string{"\x07"}},
	"CRAMs":                        {where: I | P | V, def: "no", valid: []string{"yes"}, invalid: []string{"cram"}},
	"RestrictPlainPasswords":       {where: ips | V, def: "no", valid: []string{"1"}, invalid: []string{"2"}},
	"AuthenticationServer":         {where: I | P | S | V, valid: []string{"127.0.0.1:56", "[::1]:56"}, invalid: []string{"127.0.0.1", "host:0"}},
	"AuthenticationLdapAttributes": {where: I | P | S | V, valid: []string{`"attr1" "attr2"`, "mail cn"}, invalid: []string{"at tr(1)"}},
	"ExtraSASLMechanisms":          {where: I | P | S, valid: []string{"GSSAPI NTLM"}},
	"AdminPolicy":                  {where: I | P, def: "simple", valid: []string{"simple", "SIMPLE"}, invalid: []string{"complex", "group"}},
	"CertmapFile": {where: ips | V | N4, defaults: map[Where]string{N4: "certmap.conf"}, aliases: []string{"CertMapFile", "CertMap"},
		valid: []string{"/opt/SUNWmsgsr/config/certmap.conf"}, invalid: []string{"x\ny"}},
	"AuthService":    {where: P | V, def: "no", valid: []string{"yes"}, invalid: []string{"pop"}},
	"AuthServiceTTL": {where: P, def: "-1", valid: []string{"0", "900"}, invalid: []string{"-2"}},
	// §2.4
	"BacksidePort":      {where: I | P | N4, def: "143", defaults: map[Where]string{I: "143", P: "110"}, valid: []string{"1143"}, invalid: []string{"0", "65536"}},
	"Banner":            {where: ips | N4, def: "%h %p service (%P %V)", defaults: map[Where]string{N4: "Netscape Messaging Multiplexor ready"}, valid: []string{"Siroe MMP ready"}, invalid: []string{"ready\r\n* BYE"}},
	"Capability":        {where: I | N4, def: "IMAP4 IMAP4rev1 ACL QUOTA LITERAL+ NAMESPACE UIDPLUS CHILDREN BINARY LANGUAGE XSENDER X-NETSCAPE XSERVERINFO", defaults: map[Where]string{N4: "IMAP4 IMAP4rev1 AUTH=LOGIN AUTH=PLAIN"}, valid: []string{"IMAP4rev1 LITERAL+"}},
	"PopCapability":     {where: P, def: "TOP UIDL RESP-CODES AUTH-RESP-CODE USER", valid: []string{"TOP UIDL"}},
	"ServerDownAlert":   {where: I | N4, def: "Your IMAP server appears to be temporarily out of service.", valid: []string{"down"}, invalid: []string{"a\nb"}},
	"LoginGraceTime":    {where: ips, def: "60", valid: []string{"0", "20"}, invalid: []string{"-1", "1m"}},
	"Timeout":           {where: ips, def: "1800", valid: []string{"600"}, invalid: []string{"0", "30m"}},
	"SpoofMessageFile":  {where: P | N4, valid: []string{"spoof.txt"}, invalid: []string{"\x1b"}},
	"SpoofEmptyMailbox": {where: P, def: "off", valid: []string{"on"}, invalid: []string{"empty"}},
	"SpoofTempFail":     {where: P, def: "0", valid: []string{"1"}, invalid: []string{"2"}},
	// §2.5
	"TCPAccess":            {where: ips | V, valid: []string{"+imaps,pops:ALL$+imap,pop:192.168.1.0/255.255.255.0$-ALL:ALL", "-imap:ALL EXCEPT 192.168.1.0/255.255.255.0", ""}, invalid: []string{"+imap"}},
	"TCPAccessAttr":        {where: ips | V, def: "mailAllowedServiceAccess", valid: []string{"myAccess"}, invalid: []string{"my access"}},
	"ConnLimitsIPv6Prefix": {where: ips, def: "64", valid: []string{"48", "128"}, invalid: []string{"0", "129", "/64"}},
	"MaxUserSessions":      {where: ips, def: "0", valid: []string{"0", "20"}, invalid: []string{"-1", "many"}},
	"ConnLimits":           {where: ips, def: "0.0.0.0|0.0.0.0:20", valid: []string{"192.168.1.0|255.255.255.0:100,10.0.0.1|255.255.255.255:500,0.0.0.0|0.0.0.0:20", "/opt/SUNWmsgsr/config/connlimits.cfg"}, invalid: []string{"10.0.0.1|255.0.255.0:5", "1.2.3.4|255.255.255.255:x"}},
	"ClientLookup":         {where: ips | V, def: "no", valid: []string{"yes"}, invalid: []string{"dns"}},
	"BGMax":                {where: I | P | S, def: "10000", valid: []string{"100"}, invalid: []string{"many"}},
	"BGPenalty":            {where: I | P | S, def: "2", valid: []string{"5"}, invalid: []string{"-2"}},
	"BGMaxBadness":         {where: I | P | S, def: "60", valid: []string{"120"}, invalid: []string{"1h"}},
	"BGDecay":              {where: I | P | S, def: "900", valid: []string{"60"}, invalid: []string{"x"}},
	"BGLinear":             {where: I | P | S, def: "no", valid: []string{"yes"}, invalid: []string{"linear"}},
	"ProxyProtocolPorts":   {where: I | P | S | V, valid: []string{"143", "10143|127.0.0.1:10993"}, invalid: []string{"http"}},
	"ProxyProtocolTrusted": {where: I | P | S | V, valid: []string{"10.0.0.10 10.0.0.0/24", "::1"}, invalid: []string{"10.0.0.300"}},
	"StoreAnnounce":        {where: I | P | V, def: "none", valid: []string{"id", "xclient", "proxy", "PROXY-V2"}, invalid: []string{"xpehlo"}},
	"AuthFailureDelay":     {where: I | P | S | V, def: "2", valid: []string{"0", "5"}, invalid: []string{"-1", "61", "2s"}},
	"BGExcluded":           {where: I | P | S, valid: []string{"127.0.0.1|255.255.255.255,192.168.50.0|255.255.255.0 10.1.2.0/24", "/opt/SUNWmsgsr/config/bgexcl.cfg"}, invalid: []string{"10.0.0.1|255.0.255.0"}},
	// §2.6
	"SmtpRelays":                 {where: S, valid: []string{"sesta:485 gonzo mothra", "[::1]:25"}, invalid: []string{"sesta:0"}},
	"SmtpProxyPassword":          {where: S, valid: []string{"A_Password"}, invalid: []string{"A\nB"}},
	"PopBeforeSmtpKludgeChannel": {where: S, valid: []string{"tcp_intranet"}, invalid: []string{"tcp intranet"}},
	"EhloKeywords":               {where: S, valid: []string{"TURN"}},
	"FailoverTimeout":            {where: S, def: "10", valid: []string{"30"}, invalid: []string{"0"}},
	"SmtpAuth":                   {where: S, def: "relay", valid: []string{"directory"}, invalid: []string{"both"}},
	"PopBeforeSmtpServer":        {where: S, valid: []string{"127.0.0.1:110"}, invalid: []string{"pop.example"}},
	"SmtpRelayAnnounce":          {where: S, def: "xpehlo", valid: []string{"xclient", "proxy", "none"}, invalid: []string{"xforward"}},
	// §2.7
	"SSLEnable":         {where: ips | N4, def: "no", valid: []string{"True", "Yes", "1"}, invalid: []string{"ssl"}},
	"SSLPorts":          {where: ips, valid: []string{"993|127.0.0.1:1993", "[::1]:993"}, invalid: []string{"993|x:1", "0"}},
	"SSLBacksidePort":   {where: I | P | N4, valid: []string{"993", "0"}, invalid: []string{"-1"}},
	"SSLBacksideCAPEM":  {where: I | P, valid: []string{"/etc/openmmp/store-ca.pem"}, invalid: []string{"a\nb"}},
	"SSLBacksideVerify": {where: I | P, def: "yes", valid: []string{"no"}, invalid: []string{"sometimes"}},
	"SSLCacheDir":       {where: ips, valid: []string{"/opt/SUNWmsgsr/config"}, invalid: []string{"\n"}},
	"SSLCertFile":       {where: ips | N4, defaults: map[Where]string{N4: "cert7.db"}, valid: []string{"cert7.db"}, invalid: []string{"\x00"}},
	"SSLCertPrefix":     {where: ips, valid: []string{"", "mmp-"}, invalid: []string{"\r"}},
	"SSLCertNicknames":  {where: ips | N4, aliases: []string{"SSLCertNickname", "SSLCertName"}, valid: []string{"Server-Cert", "Siroe.com Server-Cert", `"Siroe.com Server-Cert" Backup-Cert`}, invalid: []string{`"Server-Cert`}},
	"SSLKeyFile":        {where: ips | N4, defaults: map[Where]string{N4: "key3.db"}, valid: []string{"/opt/SUNWmsgsr/config/key3.db"}, invalid: []string{"\x7f"}},
	"SSLKeyPasswdFile":  {where: ips, valid: []string{"sslpassword.conf", ""}, invalid: []string{"a\nb"}},
	"SSLKeyPasswd":      {where: N4, valid: []string{"netscape!"}, invalid: []string{"\n"}},
	"SSLSecmodFile":     {where: ips | N4, valid: []string{"secmod.db"}, invalid: []string{"\x01"}},
	"SSLCipherSpecs":    {where: ips | N4, def: "all", aliases: []string{"SSLCipherSecs"}, valid: []string{"SSL_RSA_WITH_RC4_128_MD5:SSL_RSA_WITH_3DES_EDE_CBC_SHA", "ALL"}, invalid: []string{"RC4(128)"}},
	"SSLKeyExchangeGroups": {where: ips, def: "default", valid: []string{"X25519MLKEM768 X25519 P256 P384", "x25519:P-256:secp384r1:prime256v1", "DEFAULT", "SecP256r1MLKEM768,SecP384r1MLKEM1024,CurveP521"},
		invalid: []string{"X448", "ffdhe2048", "default X25519", "X25519 X25519X"}},
	"SSLCertPEM":     {where: ips, valid: []string{"/etc/openmmp/a.crt /etc/openmmp/b.crt"}},
	"SSLKeyPEM":      {where: ips, valid: []string{"/etc/openmmp/a.key"}},
	"SSLClientCAPEM": {where: ips, valid: []string{"/etc/openmmp/ca.pem"}, invalid: []string{"\t\n"}},
	// §2.9
	"LDAPHost":      {where: N4, def: "localhost:389", valid: []string{"ldap.airius.com:389", "ldap"}, invalid: []string{"ldap:port", ""}},
	"BaseDN":        {where: N4, def: "o=mcom.com", valid: []string{"o=airius.com"}, invalid: []string{"airius"}},
	"LDAPAuth":      {where: N4, def: "n", valid: []string{"y"}, invalid: []string{"perhaps"}},
	"ListenPort":    {where: N4, def: "143", defaults: map[Where]string{I | N4: "143", P | N4: "110", S | N4: "25"}, valid: []string{"143", "10.0.0.5:143"}, invalid: []string{"143x"}},
	"SSLListenPort": {where: N4, def: "993", defaults: map[Where]string{I | N4: "993", P | N4: "995"}, valid: []string{"993"}, invalid: []string{"99999"}},
}

func TestEveryParameterHasACase(t *testing.T) {
	for _, p := range All() {
		if _, ok := cases[p.Name]; !ok {
			t.Errorf("parameter %s has no test case", p.Name)
		}
	}
	for name := range cases {
		if p := Lookup(name); p == nil || p.Name != name {
			t.Errorf("test case %s names no parameter", name)
		}
	}
}

func TestParameters(t *testing.T) {
	for _, p := range All() {
		c := cases[p.Name]
		t.Run(p.Name, func(t *testing.T) {
			if p.Where != c.where {
				t.Errorf("Where = %s, want %s", p.Where, c.where)
			}
			if p.Default != c.def {
				t.Errorf("Default = %q, want %q", p.Default, c.def)
			}
			for ctx, want := range c.defaults {
				if got := p.DefaultFor(ctx); got != want {
					t.Errorf("DefaultFor(%s) = %q, want %q", ctx, got, want)
				}
			}
			// Every default parses, in every context it has.
			for _, ctx := range []Where{A, I, P, S, I | N4, P | N4, S | N4} {
				if _, err := p.Check(p.DefaultFor(ctx)); err != nil {
					t.Errorf("default in %s (%q) does not parse: %v", ctx, p.DefaultFor(ctx), err)
				}
			}
			for _, n := range append(c.aliases, p.Name, strings.ToUpper(p.Name), strings.ToLower(p.Name)) {
				if got := Lookup(n); got != p {
					t.Errorf("Lookup(%q) = %v, want %s", n, got, p.Name)
				}
			}
			for _, a := range c.aliases {
				if !slices.ContainsFunc(p.Names(), func(n string) bool { return strings.EqualFold(n, a) }) {
					t.Errorf("alias %s is not in Aliases %v", a, p.Aliases)
				}
			}
			for _, v := range c.valid {
				if _, err := p.Check(v); err != nil {
					t.Errorf("Check(%q) = %v, want no error", v, err)
				}
			}
			for _, v := range c.invalid {
				if _, err := p.Check(v); err == nil {
					t.Errorf("Check(%q) = nil error, want an error", v)
				}
			}
			if p.Doc == "" || p.Type == "" || p.Group == "" || p.Era == "" {
				t.Errorf("Doc, Type, Group and Era must all be set")
			}
			if p.Secret && p.Template == Live && p.Example == "" {
				t.Errorf("a secret in a template needs an example value")
			}
		})
	}
}

// The docs/reference.md §2.11 lists 80 documented names; every one must resolve.
func TestSpecIndexNames(t *testing.T) {
	names := strings.Fields(`AdminPolicy AuthCacheSize AuthCacheTTL AuthenticationLdapAttributes
	AuthenticationServer AuthService AuthServiceTTL BacksidePort Banner BaseDN BeTheGroup BeTheUser
	BGDecay BGExcluded BGLinear BGMax BGMaxBadness BGPenalty BindDN BindPass CanonicalVirtualDomainDelim
	Capability CertMapDN CertmapFile ClientLookup ConnLimits CRAMs DefaultDomain DomainSearchFormat
	EhloKeywords ExtraSASLMechanisms FailoverTimeout HostedDomains LDAPAuth LdapCacheSize LdapCacheTTL
	LDAPHost LdapRefreshInterval LdapUrl ListenPort LogDir LogLevel MailHostAttrs NumThreads
	PopBeforeSmtpKludgeChannel PreAuth ReplayFormat RestrictPlainPasswords SearchFormat ServerDownAlert
	ServiceList SmtpProxyPassword SmtpRelays SpoofEmptyMailbox SpoofMessageFile SpoofTempFail
	SSLBacksidePort SSLCacheDir SSLCertFile SSLCertNicknames SSLCertPrefix SSLCipherSpecs SSLEnable
	SSLKeyFile SSLKeyPasswd SSLKeyPasswdFile SSLListenPort SSLPorts SSLSecmodFile StoreAdmin
	StoreAdminPass TCPAccess TCPAccessAttr Timeout UidAttr UidSearch UserGroupDN VDomain
	VirtualDomainDelim VirtualDomainFile`)
	if len(names) != 80 {
		t.Fatalf("test lists %d names, want the reference's 80", len(names))
	}
	for _, n := range names {
		if Lookup(n) == nil {
			t.Errorf("Lookup(%q) = nil", n)
		}
	}
	for _, n := range []string{"SSLCertPEM", "SSLKeyPEM", "SSLClientCAPEM", "SSLKeyExchangeGroups", "PopCapability", "SmtpRelayAnnounce", "LdapSchemaLevel",
		"MaxConnections", "MaxPreLoginConnections", "LoginGraceTime", "ConnLimitsIPv6Prefix",
		"FleetRedis", "FleetCallTimeout", "FleetFailClosed", "FleetLeaseTime", "FleetKeyPrefix", "MaxUserSessions"} {
		if p := Lookup(n); p == nil || p.Era != "Go" {
			t.Errorf("Go extension %s missing or not marked Era Go", n)
		}
	}
}

func TestNetscapeFlags(t *testing.T) {
	want := map[string]string{
		"-a": "ServerDownAlert", "-b": "BaseDN", "-ba": "Banner", "-c": "BacksidePort", "-cm": "CertmapFile",
		"-d": "StoreAdmin", "-D": "BindDN", "-h": "LDAPHost", "-m": "SpoofMessageFile", "-ma": "MailHostAttrs",
		"-o": "LogDir", "-p": "ListenPort", "-pre": "PreAuth", "-ps": "SSLListenPort", "-t": "NumThreads",
		"-us": "SearchFormat", "-v": "LogLevel", "-vd": "VirtualDomainFile", "-vdd": "VirtualDomainDelim",
		"-vddc": "CanonicalVirtualDomainDelim", "-w": "BindPass", "-W": "StoreAdminPass", "-x": "Capability",
	}
	for flag, name := range want {
		if p := ByFlag(flag); p == nil || p.Name != name {
			t.Errorf("ByFlag(%q) = %v, want %s", flag, p, name)
		}
	}
	n := 0
	for _, p := range All() {
		if p.Flag != "" {
			n++
			if want[p.Flag] != p.Name {
				t.Errorf("%s has flag %s, which Netscape did not document for it", p.Name, p.Flag)
			}
		}
	}
	if n != len(want) {
		t.Errorf("%d parameters have flags, want %d", n, len(want))
	}
	for _, s := range []string{"-P", "-vdc", "-B"} {
		if ByFlag(s) != nil {
			t.Errorf("ByFlag(%q) found a parameter; flags match exactly", s)
		}
	}
}

func TestEnvNames(t *testing.T) {
	for name, want := range map[string]string{"SearchFormat": "UidSearch", "BindPass": "BindPassword",
		"SSLCertNicknames": "SSLCertNickname", "CertmapFile": "CertMapFile", "LdapUrl": "LdapUrl"} {
		if got := Lookup(name).EnvName(); got != want {
			t.Errorf("Lookup(%q).EnvName() = %q, want %q", name, got, want)
		}
	}
}

func TestTypedParse(t *testing.T) {
	if d, err := Timeout.Parse("600"); err != nil || d != 10*time.Minute {
		t.Errorf("Timeout.Parse(600) = %v, %v", d, err)
	}
	if b, err := SSLEnable.Parse("True"); err != nil || !b {
		t.Errorf("SSLEnable.Parse(True) = %v, %v", b, err)
	}
	if l, err := MailHostAttrs.Parse("mailHost, myBackupHost"); err != nil || !slices.Equal(l, []string{"mailHost", "myBackupHost"}) {
		t.Errorf("MailHostAttrs.Parse = %v, %v", l, err)
	}
	if u, err := LdapUrl.Parse(`ldap://h1 h2:1389/o=internet`); err != nil || len(u.Hosts) != 2 || u.BaseDN != "o=internet" {
		t.Errorf("LdapUrl.Parse = %+v, %v", u, err)
	}
	if r, err := SmtpRelays.Parse("sesta:485 gonzo"); err != nil || !slices.Equal(r, []string{"sesta:485", "gonzo:25"}) {
		t.Errorf("SmtpRelays.Parse = %v, %v", r, err)
	}
	if c, err := ConnLimits.Parse("/etc/limits.cfg"); err != nil || c.File != "/etc/limits.cfg" {
		t.Errorf("ConnLimits.Parse(file) = %+v, %v", c, err)
	}
	if _, err := Timeout.Parse(""); err == nil || !strings.Contains(err.Error(), "needs a value") {
		t.Errorf(`Timeout.Parse("") = %v, want "needs a value"`, err)
	}
}

// SSLCertNicknames is a list ("Nicknames of the certificates", Sun
// Messaging Server 6 2005Q1 Administration Reference, Table 5-1); a
// nickname with blanks is quoted inside the value.
func TestNicknames(t *testing.T) {
	for in, want := range map[string][]string{
		"Server-Cert":                           {"Server-Cert"},
		"Server-Cert Backup-Cert":               {"Server-Cert", "Backup-Cert"},
		`"Siroe.com Server-Cert" Backup-Cert`:   {"Siroe.com Server-Cert", "Backup-Cert"},
		`Backup-Cert  "Siroe.com Server-Cert" `: {"Backup-Cert", "Siroe.com Server-Cert"},
		"":                                      nil,
	} {
		if got, err := SSLCertNicknames.Parse(in); err != nil || !slices.Equal(got, want) {
			t.Errorf("SSLCertNicknames.Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`"Siroe.com Server-Cert`, `a"b c"`} {
		if _, err := SSLCertNicknames.Parse(bad); err == nil {
			t.Errorf("SSLCertNicknames.Parse(%q) accepted", bad)
		}
	}
}

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{"LdapUrll": "LdapUrl", "BGPenality": "BGPenalty", "SSLPort": "SSLPorts", "Zebra": "",
		// A known name inside a longer one.
		"ClientTimeout": "Timeout", "LdapUrlBackup": "LdapUrl", "IdleTimeout": "Timeout", "MyBannerText": "",
		// Near a documented alias: the canonical name is suggested.
		"SSLCipherSec": "SSLCipherSpecs", "DomainDelimiter": "VirtualDomainDelim", "UidSearchFilter": "SearchFormat",
		"BindPasswd": "BindPass", "CertMapFiles": "CertmapFile"} {
		if got := Suggest(in); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
