package param

// The table. Order matters: it is the order of templates, `-h` listings
// and man pages. Groups follow docs/reference.md §2.1–§2.9.

const (
	I, P, S, V, A = IMAP, POP, SMTP, VDMap, AService
	ips           = I | P | S
)

// Escape letters allowed in the format parameters (docs/reference.md §3.8).
const (
	searchEscapes = "osUVCSD"
	replayEscapes = "UVAso"
)

// §2.1 AService.cfg (daemon-wide)
var (
	ServiceList = define(&Param{
		Name: "ServiceList", Where: A, Group: "Daemon", Era: "S5+",
		Type:    "DLLNAME[:INSTANCE[:SECTION]]@[IP:]PORT[|[IP:]PORT]... ...",
		Doc:     "Protocol modules to start and the addresses they listen on; list every port, SSL or not, on one line.",
		Default: "ImapProxyAService@143 PopProxyAService@110", Template: Live,
		Example: "/opt/SUNWmsgsr/lib/ImapProxyAService@143|993 /opt/SUNWmsgsr/lib/PopProxyAService@110|995",
	}, parseServiceList)

	NumThreads = define(&Param{
		Name: "NumThreads", Where: A | N4, Group: "Daemon", AtStart: true, Era: "N4+", Type: "int",
		Doc:     "Worker threads: at most this many TLS handshakes and directory operations (lookups, password checks) run at once, across all services; 0 is the number of CPUs.",
		Default: "0", Template: Live, Flag: "-t",
	}, intRange(0, 4096))

	MaxConnections = define(&Param{
		Name: "MaxConnections", Where: A | N4, Group: "Daemon", AtStart: true, Era: "Go", Type: "int",
		Doc:     "Most client connections, logged in or not, the process holds at once across all services; beyond it the connection idle longest before login is closed for the new one. 0 derives it from the descriptor limit: a tenth (at least 64) kept for the rest, half of what is left, since a logged-in session holds two.",
		Default: "0", Template: Commented,
	}, intRange(0, 1<<24))

	MaxPreLoginConnections = define(&Param{
		Name: "MaxPreLoginConnections", Where: A | N4, Group: "Daemon", AtStart: true, Era: "Go", Type: "int",
		Doc:     "Most connections not yet logged in that the process holds at once across all services; beyond it the one idle longest is closed for the new one. 0 is half of MaxConnections, or of the derived value if that is lower.",
		Default: "0", Template: Commented,
	}, intRange(0, 1<<24))

	// The Netscape installer asked for the run-as user first; its front
	// ends take it from ImapMMP.config under the Sun name.
	BeTheUser = define(&Param{
		Name: "BeTheUser", Where: A | N4, Group: "Daemon", AtStart: true, Era: "S5+", Type: "user",
		Doc:     "Unix user to run as once the listening ports are open; unset keeps the starting user.",
		Example: "mailsrv", Template: Commented,
	}, parseName)

	BeTheGroup = define(&Param{
		Name: "BeTheGroup", Where: A | N4, Group: "Daemon", AtStart: true, Era: "S5+", Type: "group",
		Doc:     "Unix group to run as once the listening ports are open.",
		Example: "mail", Template: Commented,
	}, parseName)

	LogDir = define(&Param{
		Name: "LogDir", Where: A | ips | N4, Group: "Daemon", Era: "N4+", Type: "directory",
		Doc:     "Directory for the daily log files; if it does not exist nothing is logged. Relative to the instance directory.",
		Default: "log", Defaults: map[Where]string{N4: "."}, Template: Live, Flag: "-o",
	}, parsePath)

	LogLevel = define(&Param{
		Name: "LogLevel", Where: A | ips | N4, Group: "Daemon", Era: "N4+", Type: "0-10",
		Doc:     "Log verbosity, 0 (critical only) to 10 (protocol traces, passwords masked).",
		Default: "1", Template: Live, Flag: "-v",
	}, intRange(0, 10))

	MetricsListen = define(&Param{
		Name: "MetricsListen", Where: A | N4, Group: "Daemon", AtStart: true, Era: "Go", Type: "host:port",
		Doc: "Address of an HTTP listener serving Prometheus metrics at /metrics (logins by outcome, sessions, " +
			"LDAP and store latency, BadGuys, bytes relayed) and /healthz for load balancers (200, or 503 with the reason " +
			"when no service listens or the directory does not answer); unset, there is none. No TLS and no password: " +
			"bind it to loopback or a management network.",
		Example: "127.0.0.1:9110", Template: Commented,
	}, parseHostPort)

	// The fleet (docs/reference.md §4.9): MMPs behind one load balancer
	// share BadGuys, ConnLimits, POP-before-SMTP and MaxUserSessions
	// through Redis.
	FleetRedis = define(&Param{
		Name: "FleetRedis", Where: A | N4, Group: "Daemon", AtStart: true, Era: "Go",
		Type: "redis[s]://[[USER]:PASS@]HOST[:PORT][/DB] | redis[s]-sentinel://[[USER]:PASS@]HOST:PORT[,HOST:PORT...]/MASTER[/DB] | redis[s]-cluster://[[USER]:PASS@]HOST:PORT[,HOST:PORT...]",
		Doc: "Redis (or Valkey) servers through which the MMPs of a fleet share BadGuys penalties, ConnLimits counts, " +
			"POP-before-SMTP logins and MaxUserSessions counts; rediss uses TLS, -sentinel asks Sentinels for MASTER, " +
			"-cluster a Redis Cluster. Unset, each MMP keeps them to itself.",
		Example: "redis://:secret@10.0.0.30:6379/0", Template: Commented, Secret: true,
	}, parseRedisURL)

	FleetCallTimeout = define(&Param{
		Name: "FleetCallTimeout", Where: A | N4, Group: "Daemon", AtStart: true, Era: "Go", Type: "milliseconds",
		Doc: "Longest wait for one Redis call on a login's path; a call that takes longer counts as Redis down " +
			"(each MMP's own state is used until a probe finds Redis again).",
		Default: "50", Template: Commented,
	}, msRange(1, 60_000))

	FleetFailClosed = define(&Param{
		Name: "FleetFailClosed", Where: A | N4, Group: "Daemon", AtStart: true, Era: "Go", Type: "bool",
		Doc: "While FleetRedis is unreachable, refuse new connections (with the ConnLimits reply) and logins " +
			"(with the protocol's try-later reply) instead of going on with each MMP's own state; sessions already " +
			"logged in go on.",
		Default: "no", Template: Commented,
	}, parseBool)

	FleetLeaseTime = define(&Param{
		Name: "FleetLeaseTime", Where: A | N4, Group: "Daemon", AtStart: true, Era: "Go", Type: "secs",
		Doc: "Lifetime of a connection's or a session's entry in the fleet's ConnLimits and MaxUserSessions counts; " +
			"each MMP renews the entries of its live connections every third of it, so an MMP that dies leaves its " +
			"connections counted at most this long.",
		Default: "60", Template: Commented,
	}, secsRange(3, 86400))

	FleetKeyPrefix = define(&Param{
		Name: "FleetKeyPrefix", Where: A | N4, Group: "Daemon", AtStart: true, Era: "Go", Type: "word",
		Doc:     "First part of every Redis key the fleet writes, so that several fleets can share one Redis.",
		Default: "mmp", Template: Commented,
	}, parseName)
)

// §2.2 LDAP, directory lookup and caching
var (
	LdapUrl = define(&Param{
		Name: "LdapUrl", Aliases: []string{"LdapURL"}, Where: ips | V, Group: "Directory", Era: "S5+",
		Type:    `"ldap[s]://HOST[:PORT][ HOST[:PORT]...]/BASEDN"`,
		Doc:     "Directory servers in fail-over order and the base DN: top of the DC tree (HostedDomains yes) or of all users (no).",
		Default: "ldap://localhost/o=internet", Template: Live,
	}, parseLdapURL)

	BindDN = define(&Param{
		Name: "BindDN", Where: ips | V | N4, Group: "Directory", Era: "N4+", Type: "DN",
		Doc:     "DN the MMP binds as to search the directory; unset binds anonymously.",
		Example: "cn=Directory Manager", Template: Commented, Flag: "-D",
	}, parseDN)

	BindPass = define(&Param{
		Name: "BindPass", Aliases: []string{"BindPassword"}, Where: ips | V | N4, Group: "Directory", Era: "N4+",
		Type: "password", Doc: "Password of BindDN.", Example: "secret", Template: Commented,
		Flag: "-w", Env: "BindPassword", Secret: true,
	}, parseString)

	LdapStartTLS = define(&Param{
		Name: "LdapStartTLS", Where: A | ips, Group: "Directory", AtStart: true, Era: "Go", Type: "bool",
		Doc:     "Start TLS on every ldap:// directory connection of the process (never falling back to clear text); ldaps:// needs no switch.",
		Default: "no", Template: Commented,
	}, parseBool)

	LdapCacheSize = define(&Param{
		Name: "LdapCacheSize", Where: I | P | V, Group: "Directory", Era: "S6", Type: "entries",
		Doc: "Entries in the cache of user-search results.", Default: "10000", Template: Live,
	}, intRange(0, 10_000_000))

	LdapCacheTTL = define(&Param{
		Name: "LdapCacheTTL", Where: I | P | V, Group: "Directory", Era: "S6", Type: "secs",
		Doc: "Lifetime of a cached user-search result.", Default: "900", Template: Live,
	}, secsRange(0, 1<<30))

	LdapRefreshInterval = define(&Param{
		Name: "LdapRefreshInterval", Where: ips, Group: "Directory", Era: "S6", Type: "secs",
		Doc: "The MMP replaces its directory connections after this many seconds.", Default: "2100", Template: Live,
	}, secsRange(0, 1<<30))

	UserGroupDN = define(&Param{
		Name: "UserGroupDN", Where: ips, Group: "Directory", Era: "S6", Type: "DN",
		Doc:     "Base of user, group and domain searches in Sun LDAP Schema 2; base of certificate-mapping searches.",
		Example: "o=internet", Template: Commented,
	}, parseDN)

	CertMapDN = define(&Param{
		Name: "CertMapDN", Aliases: []string{"CertmapDN"}, Where: ips, Group: "Directory", Era: "S6", Type: "DN",
		Doc:        "Old name of UserGroupDN; UserGroupDN wins when both are set.",
		Deprecated: "use UserGroupDN",
	}, parseDN)

	// Hosted domains are a Sun 5.x feature: Netscape 4.x searched every
	// user under BaseDN, so its front ends default to no.
	HostedDomains = define(&Param{
		Name: "HostedDomains", Where: I | P | V, Group: "Directory", Era: "S6", Type: "bool",
		Doc:     "yes: find the user's domain in the DC tree first (several hosted domains); no: one search under the LdapUrl base.",
		Default: "yes", Defaults: map[Where]string{N4: "no"}, Template: Live,
	}, parseBool)

	LdapSchemaLevel = define(&Param{
		Name: "LdapSchemaLevel", Where: ips | V, Group: "Directory", Era: "Go", Type: "1|2",
		Doc:     "Sun LDAP Schema 1 (DC tree under LdapUrl) or 2 (domains as organizations under UserGroupDN).",
		Default: "1", Template: Commented,
	}, intRange(1, 2))

	DefaultDomain = define(&Param{
		Name: "DefaultDomain", Where: I | P | V, Group: "Directory", Era: "S6", Type: "domain",
		Doc:     "Domain appended to login names that have none.",
		Example: "siroe.com", Template: Commented,
	}, parseDomain)

	VDomain = define(&Param{
		Name: "VDomain", Where: V, Group: "Directory", Era: "N4", Type: "domain",
		Doc: "Netscape vdmap property: domain appended to every login name arriving on that address, for search and replay.",
	}, parseDomain)

	SearchFormat = define(&Param{
		Name: "SearchFormat", Aliases: []string{"UidSearch"}, Where: I | P | V | N4, Group: "Directory", Era: "S5+",
		Type:    "LDAP filter with %o %s %U %V %C %S %D",
		Doc:     "Filter that finds the user; overridden by the domain's inetDomainSearchFilter with HostedDomains.",
		Default: "(uid=%s)", Defaults: map[Where]string{N4: "uid=%s"}, Template: Live,
		Flag: "-us", Env: "UidSearch",
	}, format(searchEscapes))

	DomainSearchFormat = define(&Param{
		Name: "DomainSearchFormat", Where: I | P | V, Group: "Directory", Era: "7.x",
		Type:    "LDAP filter with %o %s %U %V %C %S %D",
		Doc:     "Filter that finds the user below a hosted domain's user subtree (HostedDomains yes).",
		Default: "(uid=%U)", Template: Live,
	}, format(searchEscapes))

	MailHostAttrs = define(&Param{
		Name: "MailHostAttrs", Where: I | P | V | N4, Group: "Directory", Era: "N4+", Type: "attributes",
		Doc:     "Attributes naming the user's store host, tried in order (blanks or commas between them).",
		Default: "mailHost", Template: Live, Flag: "-ma",
	}, parseAttrList)

	VirtualDomainFile = define(&Param{
		Name: "VirtualDomainFile", Where: ips | N4, Group: "Directory", Era: "N4+", Type: "path",
		Doc:     "vdmap file of per-server-address settings; setting it enables virtual domains.",
		Example: "vdmap.cfg", Template: Commented, Flag: "-vd",
	}, parsePath)

	VirtualDomainDelim = define(&Param{
		Name: "VirtualDomainDelim", Aliases: []string{"DomainDelim"}, Where: I | P | V | N4, Group: "Directory", Era: "N4+",
		Type: "characters", Doc: "Each character separates user and domain in a login name; the name is scanned from the end.",
		Default: "@", Template: Live, Flag: "-vdd",
	}, parseDelims)

	CanonicalVirtualDomainDelim = define(&Param{
		Name: "CanonicalVirtualDomainDelim", Where: I | P | V | N4, Group: "Directory", Era: "N4+", Type: "character",
		Doc:     "Delimiter the MMP puts between user and domain for the directory (%s) and for replay.",
		Default: "@", Defaults: map[Where]string{N4: "+"}, Template: Live, Flag: "-vddc",
	}, parseChar)
)

// §2.3 Authentication, replay and pre-authentication
var (
	PreAuth = define(&Param{
		Name: "PreAuth", Where: I | P | V | N4, Group: "Authentication", Era: "N4+", Type: "bool",
		Doc:     "Check the password against the directory (bind as the user) before contacting the store.",
		Default: "no", Template: Live, Flag: "-pre",
	}, parseBool)

	AuthCacheSize = define(&Param{
		Name: "AuthCacheSize", Where: I | P | V, Group: "Authentication", Era: "S6", Type: "entries",
		Doc: "Entries in the cache of successful pre-authentications.", Default: "10000", Template: Live,
	}, intRange(0, 10_000_000))

	AuthCacheTTL = define(&Param{
		Name: "AuthCacheTTL", Aliases: []string{"AuthCacheSizeTTL"}, Where: I | P | V, Group: "Authentication", Era: "S6",
		Type: "secs", Doc: "Lifetime of a cached pre-authentication; a changed password is seen within this time.",
		Default: "900", Template: Live,
	}, secsRange(0, 1<<30))

	// Netscape 4.x logged in to the store as userid+virtual.domain, the
	// name it searched for (Netscape Messaging Server 4.x Administrator's Guide, ch. 13, CanonicalVirtualDomainDelim): %s.
	ReplayFormat = define(&Param{
		Name: "ReplayFormat", Where: I | P | V, Group: "Authentication", Era: "S5+", Type: "format with %U %V %A[attr] %s %o",
		Doc:     "Login name sent to the store; overridden by the domain's mailAccessProxyReplay.",
		Default: "%U", Defaults: map[Where]string{N4: "%s"}, Template: Live,
	}, format(replayEscapes))

	UidAttr = define(&Param{
		Name: "UidAttr", Where: N4, Group: "Authentication", Era: "N4", Type: "attribute",
		Doc: "Netscape: attribute whose value is replayed as the login name; the same as ReplayFormat %A[attr].",
	}, parseAttr)

	StoreAdmin = define(&Param{
		Name: "StoreAdmin", Where: I | P | V | N4, Group: "Authentication", Era: "N4+", Type: "user",
		Doc:     "Store administrator the MMP proxy-authenticates as when it has no user password (client certificates).",
		Example: "mmpstore", Template: Commented, Flag: "-d",
	}, parseName)

	StoreAdminPass = define(&Param{
		Name: "StoreAdminPass", Where: I | P | V | N4, Group: "Authentication", Era: "N4+", Type: "password",
		Doc: "Password of StoreAdmin.", Example: "secret", Template: Commented, Flag: "-W", Secret: true,
	}, parseString)

	CRAMs = define(&Param{
		Name: "CRAMs", Where: I | P | V, Group: "Authentication", Era: "S6", Type: "bool",
		Doc:     "Offer CRAM-MD5 and APOP; needs clear-text userPassword readable by BindDN.",
		Default: "no", Template: Live,
	}, parseBool)

	RestrictPlainPasswords = define(&Param{
		Name: "RestrictPlainPasswords", Where: ips | V, Group: "Authentication", Era: "S6", Type: "bool",
		Doc:     "Refuse passwords sent in clear text before TLS is in effect.",
		Default: "no", Template: Live,
	}, parseBool)

	AuthenticationServer = define(&Param{
		Name: "AuthenticationServer", Where: I | P | S | V, Group: "Authentication", Era: "S6", Type: "host:port",
		Doc:     "Third-party authentication service asked instead of the directory when PreAuth is on (SMTP: with SmtpAuth directory), and that performs ExtraSASLMechanisms. In SmtpProxyAService.cfg an openmmp extension.",
		Example: "127.0.0.1:56", Template: Commented,
	}, parseHostPort)

	AuthenticationLdapAttributes = define(&Param{
		Name: "AuthenticationLdapAttributes", Where: I | P | S | V, Group: "Authentication", Era: "S6", Type: "attributes",
		Doc: "Extra user attributes passed to AuthenticationServer.",
	}, parseAttrList)

	ExtraSASLMechanisms = define(&Param{
		Name: "ExtraSASLMechanisms", Where: I | P | S, Group: "Authentication", Era: "S6 patch", Type: "mechanisms",
		Doc: "Further SASL mechanisms offered (CAPABILITY, CAPA, EHLO) and performed by AuthenticationServer; only with AuthenticationServer and PreAuth set (SMTP: SmtpAuth directory). The user it names logs in to the store through StoreAdmin. In SmtpProxyAService.cfg an openmmp extension.",
	}, parseWords)

	AdminPolicy = define(&Param{
		Name: "AdminPolicy", Where: I | P, Group: "Authentication", Era: "7.x", Type: "simple|group",
		Doc:     "Who may log in on behalf of another user (SASL PLAIN with an authorization identity): simple = only StoreAdmin, with StoreAdminPass; the store is then logged in to as StoreAdmin for that user. group (the store's administrator groups) is refused.",
		Default: "simple",
	}, adminPolicy)

	CertmapFile = define(&Param{
		Name: "CertmapFile", Aliases: []string{"CertMapFile", "CertMap"}, Where: ips | V | N4, Group: "Authentication", Era: "N4+",
		Type: "path", Doc: "certmap.conf that maps client certificates to directory users.",
		Defaults: map[Where]string{N4: "certmap.conf"}, Example: "certmap.conf", Template: Commented,
		Flag: "-cm", Env: "CertMapFile",
	}, parsePath)

	AuthService = define(&Param{
		Name: "AuthService", Where: P | V, Group: "Authentication", Era: "S6", Type: "bool",
		Doc:     "Remember POP logins by client address and answer XQUERYAUTH, for POP-before-SMTP.",
		Default: "no", Template: Live,
	}, parseBool)

	AuthServiceTTL = define(&Param{
		Name: "AuthServiceTTL", Where: P, Group: "Authentication", Era: "S6", Type: "secs",
		Doc:     "How long a POP login is remembered for POP-before-SMTP; 0 or less turns it off.",
		Default: "-1", Template: Live,
		// "For all other MMP proxies (SMTP and IMAP), AuthServiceTTL
		// should be omitted or set to -1" (Administration Reference).
		Inert: I | S,
	}, secsRange(-1, 1<<30))
)

// §2.4 Back-end connection, banners, capability, timeouts
var (
	BacksidePort = define(&Param{
		Name: "BacksidePort", Where: I | P | N4, Group: "Store", Era: "N4+", Type: "port",
		Doc:      "Port of the stores.",
		Defaults: map[Where]string{I: "143", P: "110"}, Default: "143", Template: Live, Flag: "-c",
	}, parsePort)

	Banner = define(&Param{
		Name: "Banner", Where: ips | N4, Group: "Store", Era: "N4+", Type: "text with %h %p %P %v %V",
		Doc:     "Greeting text after the status token; %h host, %p protocol, %P product, %v/%V version.",
		Default: "%h %p service (%P %V)", Defaults: map[Where]string{N4: "Netscape Messaging Multiplexor ready"},
		Template: Live, Flag: "-ba",
	}, parseString)

	Capability = define(&Param{
		Name: "Capability", Where: I | N4, Group: "Store", Era: "N4+", Type: "IMAP capability atoms",
		Doc:      "Pre-login IMAP capabilities; list only what every store supports. STARTTLS and AUTH= are added by the MMP.",
		Default:  "IMAP4 IMAP4rev1 ACL QUOTA LITERAL+ NAMESPACE UIDPLUS CHILDREN BINARY LANGUAGE XSENDER X-NETSCAPE XSERVERINFO",
		Defaults: map[Where]string{N4: "IMAP4 IMAP4rev1 AUTH=LOGIN AUTH=PLAIN"}, Template: Live, Flag: "-x",
	}, parseWords)

	PopCapability = define(&Param{
		Name: "PopCapability", Where: P, Group: "Store", Era: "Go", Type: "CAPA words",
		Doc:     "Pre-login POP3 CAPA list; STLS and SASL are added by the MMP.",
		Default: "TOP UIDL RESP-CODES AUTH-RESP-CODE USER", Template: Commented,
	}, parseWords)

	ServerDownAlert = define(&Param{
		Name: "ServerDownAlert", Where: I | N4, Group: "Store", Era: "N4+", Type: "text",
		Doc:     "Text of the IMAP [ALERT] sent when no store can be reached.",
		Default: "Your IMAP server appears to be temporarily out of service.", Template: Live, Flag: "-a",
	}, parseString)

	Timeout = define(&Param{
		Name: "Timeout", Where: ips, Group: "Store", Era: "S6", Type: "secs",
		Doc:     "Idle time after which a session is closed, before and after login.",
		Default: "1800", Template: Live,
		MinAdvised: map[Where]int64{I: 1800, P: 600, S: 600},
	}, secsRange(1, 1<<30))

	LoginGraceTime = define(&Param{
		Name: "LoginGraceTime", Where: ips, Group: "Store", Era: "Go", Type: "secs",
		Doc:     "Seconds from the connection within which a client must log in, however busy it keeps, or be disconnected (as OpenSSH's LoginGraceTime); 0 sets no limit beyond Timeout.",
		Default: "60", Template: Commented,
	}, secsRange(0, 1<<30))

	SpoofMessageFile = define(&Param{
		Name: "SpoofMessageFile", Where: P | N4, Group: "Store", Era: "N4+", Type: "path",
		Doc:     "When the store is down, serve a mailbox holding this one message (RFC 822, ending with a dot line).",
		Example: "spoof.txt", Template: Commented, Flag: "-m",
	}, parsePath)

	SpoofEmptyMailbox = define(&Param{
		Name: "SpoofEmptyMailbox", Where: P, Group: "Store", Era: "S6", Type: "on|off",
		Doc:     "When the store is down, serve an empty mailbox; wins over SpoofMessageFile.",
		Default: "off", Template: Live,
	}, parseBool)

	SpoofTempFail = define(&Param{
		Name: "SpoofTempFail", Where: P, Group: "Store", Era: "7.x", Type: "bool",
		Doc:     "Apply the spoof rules to temporary authentication failures too (account on hold, store [SYS/TEMP]).",
		Default: "0", Template: Commented,
	}, parseBool)
)

// §2.5 Access control, limits, BadGuys
var (
	TCPAccess = define(&Param{
		Name: "TCPAccess", Where: ips | V, Group: "Access", Era: "S6", Type: "filter",
		Doc:     "Client access filter checked when a connection arrives (+/-service:clients rules joined by $).",
		Example: "+imaps,pops:ALL$+imap,pop:192.168.1.0/255.255.255.0$-ALL:ALL", Template: Commented,
	}, parseFilter)

	TCPAccessAttr = define(&Param{
		Name: "TCPAccessAttr", Where: ips | V, Group: "Access", Era: "S6", Type: "attribute",
		Doc:     "User attribute holding a per-user access filter.",
		Default: "mailAllowedServiceAccess", Template: Live,
	}, parseAttr)

	ConnLimits = define(&Param{
		Name: "ConnLimits", Where: ips, Group: "Access", Era: "S6", Type: "IP|MASK:NUM,... or file",
		Doc:     "Most simultaneous connections from one client address, by network, most specific first.",
		Default: "0.0.0.0|0.0.0.0:20", Template: Live,
	}, parseConnLimits)

	ConnLimitsIPv6Prefix = define(&Param{
		Name: "ConnLimitsIPv6Prefix", Where: ips, Group: "Access", Era: "Go", Type: "bits",
		Doc:     "ConnLimits counts an IPv6 client by its network of this many bits (a host is given a /64); 128 counts each address.",
		Default: "64", Template: Commented,
	}, intRange(1, 128))

	MaxUserSessions = define(&Param{
		Name: "MaxUserSessions", Where: ips, Group: "Access", Era: "Go", Type: "int",
		Doc: "Most sessions one user (after the directory lookup) may hold at once in this service, across the fleet " +
			"with FleetRedis, else in this MMP; one more is refused after its login (IMAP NO [LIMIT], POP -ERR [IN-USE], " +
			"SMTP 454). 0 sets no limit.",
		Default: "0", Template: Commented,
	}, intRange(0, 1<<20))

	ClientLookup = define(&Param{
		Name: "ClientLookup", Where: ips | V, Group: "Access", Era: "S6", Type: "bool",
		Doc:     "Always look up the client's host name (DNS), so the SMTP relay need not.",
		Default: "no", Template: Live,
	}, parseBool)

	BGMax = define(&Param{
		Name: "BGMax", Where: I | P | S, Group: "Access", Era: "S6", Type: "entries",
		Doc: "Most client addresses tracked as bad guys.", Default: "10000", Template: Live,
	}, intRange(0, 10_000_000))

	BGPenalty = define(&Param{
		Name: "BGPenalty", Where: I | P | S, Group: "Access", Era: "S6", Type: "secs",
		Doc: "Seconds of delay added per authentication failure. In SmtpProxyAService.cfg (an openmmp extension) it throttles SMTP AUTH failures the same way.", Default: "2", Template: Live,
	}, secsRange(0, 1<<20))

	BGMaxBadness = define(&Param{
		Name: "BGMaxBadness", Where: I | P | S, Group: "Access", Era: "S6", Type: "secs",
		Doc: "Cap on a client's delay.", Default: "60", Template: Live,
	}, secsRange(0, 1<<20))

	BGDecay = define(&Param{
		Name: "BGDecay", Where: I | P | S, Group: "Access", Era: "S6", Type: "secs",
		Doc: "Time after the last failure at which a client is forgiven.", Default: "900", Template: Live,
	}, secsRange(0, 1<<30))

	BGLinear = define(&Param{
		Name: "BGLinear", Where: I | P | S, Group: "Access", Era: "S6", Type: "bool",
		Doc: "yes: the delay decays linearly; no: forgiven all at once after BGDecay.", Default: "no", Template: Live,
	}, parseBool)

	// Behind a load balancer the MMP sees the balancer's address; the
	// PROXY protocol hands over the client's (openmmp extensions).
	ProxyProtocolPorts = define(&Param{
		Name: "ProxyProtocolPorts", Where: ips | V, Group: "Access", Era: "Go", Type: "[IP:]PORT[|[IP:]PORT]...",
		Doc: "Listening ports where every connection starts with a HAProxy PROXY protocol header (v1 or v2, before any TLS) from a load balancer in ProxyProtocolTrusted; " +
			"its client address then counts everywhere (ConnLimits, BadGuys, TCPAccess, the vdmap block of the address it reached, logs, relays and stores). " +
			"A connection from anywhere else, or without a header within 5 seconds, is refused and logged. Each port must also be in ServiceList. " +
			"In a vdmap block it applies to the connections that reach that block's address (before the header; the header's destination then picks the block whose values the session uses).",
		Example: "10143|10993", Template: Commented,
	}, parsePortSpec)

	ProxyProtocolTrusted = define(&Param{
		Name: "ProxyProtocolTrusted", Where: ips | V, Group: "Access", Era: "Go", Type: "IP[/prefix] list",
		Doc:     "The load balancers whose PROXY headers are believed on ProxyProtocolPorts.",
		Example: "10.0.0.10 10.0.0.11", Template: Commented,
	}, parsePrefixList)

	// The stores' own logs and brute-force protection need the client's
	// address, not the MMP's; Sun never told them.
	StoreAnnounce = define(&Param{
		Name: "StoreAnnounce", Where: I | P | V, Group: "Store", Era: "Go", Type: "none|id|xclient|proxy|proxy-v2",
		Doc: "How a store learns the client's address and port, the MMP's address and port and the session id of the MMP's log: " +
			"none (Sun's behaviour); id, IMAP ID with x-originating-ip and the like before the login (Dovecot trusts it from login_trusted_networks; " +
			"the client's own ID is passed on without them); xclient, POP3 XCLIENT ADDR= PORT= SESSION= before the login (Dovecot pop3-login); " +
			"proxy or proxy-v2, the HAProxy PROXY protocol header on every store connection (Dovecot haproxy_trusted_networks).",
		Default: "none", Template: Commented,
	}, oneOf("none", "id", "xclient", "proxy", "proxy-v2"))

	// A failed login must not tell its cause by its speed: an unknown
	// user answered in 0.5 ms and a wrong password in 500 ms (the store
	// asked) enumerate the users. Dovecot's auth_failure_delay.
	AuthFailureDelay = define(&Param{
		Name: "AuthFailureDelay", Where: ips | V, Group: "Access", Era: "Go", Type: "secs",
		Doc:     "Every failed login (unknown user, wrong password, refused account, whatever the cause) is answered this many seconds after the attempt began, so that the reply's timing tells nothing; the session waits on a timer, holding no worker. 0 answers at once.",
		Default: "2", Template: Commented,
	}, secsRange(0, 60))

	BGExcluded = define(&Param{
		Name: "BGExcluded", Where: I | P | S, Group: "Access", Era: "S6", Type: "IP|MASK list or file",
		Doc:     "Client addresses never penalised.",
		Example: "bgexcl.cfg", Template: Commented,
	}, parseAddrList)
)

// §2.6 SMTP proxy
var (
	SmtpRelays = define(&Param{
		Name: "SmtpRelays", Where: S, Group: "SMTP", Era: "S5.2+", Type: "host[:port] ...",
		Doc:     "Relays used in turn for submitted mail.",
		Example: "sesta:485 gonzo mothra", Template: Live,
	}, parseRelays)

	SmtpProxyPassword = define(&Param{
		Name: "SmtpProxyPassword", Where: S, Group: "SMTP", Era: "S5.2+", Type: "password",
		Doc:     "Shared secret that lets the relay accept XPEHLO (PROXY_PASSWORD on the MTA).",
		Example: "A_Password", Template: Live, Secret: true,
	}, parseString)

	PopBeforeSmtpKludgeChannel = define(&Param{
		Name: "PopBeforeSmtpKludgeChannel", Where: S, Group: "SMTP", Era: "S5.2+", Type: "channel",
		Doc:     "MTA channel for clients with a recent POP login.",
		Example: "tcp_intranet", Template: Commented,
	}, parseName)

	EhloKeywords = define(&Param{
		Name: "EhloKeywords", Where: S, Group: "SMTP", Era: "S6", Type: "keywords",
		Doc:     "EHLO keywords passed to clients besides the built-in set.",
		Example: "TURN", Template: Commented,
	}, parseWords)

	FailoverTimeout = define(&Param{
		Name: "FailoverTimeout", Where: S, Group: "SMTP", Era: "S6", Type: "secs",
		Doc:     "Seconds to wait for a relay; a relay that does not answer is avoided for as many minutes.",
		Default: "10", Template: Live,
	}, secsRange(1, 3600))

	SmtpAuth = define(&Param{
		Name: "SmtpAuth", Where: S, Group: "SMTP", Era: "Go", Type: "relay|directory",
		Doc:     "relay: SMTP AUTH is passed to the relay (Sun); directory: the MMP checks the password in the directory and tells the relay who logged in.",
		Default: "relay", Template: Commented,
	}, oneOf("relay", "directory"))

	PopBeforeSmtpServer = define(&Param{
		Name: "PopBeforeSmtpServer", Where: S, Group: "SMTP", Era: "Go", Type: "host:port",
		Doc:     "POP proxy asked with XQUERYAUTH for POP-before-SMTP when it runs in another process; unset asks the POP service of the same AService process.",
		Example: "127.0.0.1:110", Template: Commented,
	}, parseHostPort)

	SmtpRelayAnnounce = define(&Param{
		Name: "SmtpRelayAnnounce", Where: S, Group: "SMTP", Era: "Go", Type: "xpehlo|xclient|proxy|none",
		Doc:     "How the relay learns the real client: Sun XPEHLO, Postfix XCLIENT, HAProxy PROXY v1, or not at all.",
		Default: "xpehlo", Template: Commented,
	}, oneOf("xpehlo", "xclient", "proxy", "none"))
)

// §2.7 SSL / TLS
var (
	SSLEnable = define(&Param{
		Name: "SSLEnable", Where: ips | N4, Group: "SSL", Era: "N4+", Type: "bool",
		Doc:     "Offer STARTTLS (IMAP, SMTP) and STLS (POP); needed for the SSLPorts too.",
		Default: "no", Example: "yes", Template: Commented,
	}, parseBool)

	SSLPorts = define(&Param{
		Name: "SSLPorts", Where: ips, Group: "SSL", Era: "S5+", Type: "[IP:]PORT[|[IP:]PORT]...",
		Doc:     "Listening ports that start with a TLS handshake; each must also be in ServiceList.",
		Example: "993", Template: Commented,
	}, parsePortSpec)

	SSLBacksidePort = define(&Param{
		Name: "SSLBacksidePort", Where: I | P | N4, Group: "SSL", Era: "N4+", Type: "port",
		Doc:     "Connect to the stores with TLS on this port; unset or 0 means clear text.",
		Example: "993", Template: Commented,
	}, parseOptionalPort)

	SSLBacksideCAPEM = define(&Param{
		Name: "SSLBacksideCAPEM", Where: I | P, Group: "SSL", Era: "Go", Type: "path",
		Doc:     "PEM CA certificates the stores' certificates must chain to (SSLBacksidePort); unset uses the system's roots.",
		Example: "/etc/openmmp/store-ca.pem", Template: Commented,
	}, parsePath)

	SSLBacksideVerify = define(&Param{
		Name: "SSLBacksideVerify", Where: I | P, Group: "SSL", Era: "Go", Type: "bool",
		Doc:     "Check the stores' certificates; no encrypts without authenticating, for self-signed lab stores only.",
		Default: "yes", Template: Commented,
	}, parseBool)

	SSLCacheDir = define(&Param{
		Name: "SSLCacheDir", Where: ips, Group: "SSL", Era: "S5+", Type: "directory",
		Doc:     "NSS: directory holding the certificate database named by SSLCertPrefix.",
		Example: "/opt/SUNWmsgsr/config", Template: Commented,
	}, parsePath)

	SSLCertFile = define(&Param{
		Name: "SSLCertFile", Where: ips | N4, Group: "SSL", Era: "N4-S5", Type: "path",
		Doc:        "NSS certificate database (cert7.db); replaced by SSLCertPrefix in Sun 6.",
		Defaults:   map[Where]string{N4: "cert7.db"},
		Deprecated: "Sun 6 replaced it with SSLCertPrefix; use SSLCertPEM",
	}, parsePath)

	SSLCertPrefix = define(&Param{
		Name: "SSLCertPrefix", Where: ips, Group: "SSL", Era: "S6", Type: "prefix",
		Doc:      "NSS: file-name prefix of the certificate database inside SSLCacheDir.",
		Template: Commented,
	}, parseString)

	SSLCertNicknames = define(&Param{
		Name: "SSLCertNicknames", Aliases: []string{"SSLCertNickname", "SSLCertName"}, Where: ips | N4, Group: "SSL", Era: "N4+",
		Type: "nicknames", Doc: `NSS: nicknames of the server certificates in the database, separated by blanks; quote one that has blanks ("Siroe.com Server-Cert").`,
		Example: "Server-Cert", Template: Commented, Env: "SSLCertNickname",
	}, parseNicknames)

	SSLKeyFile = define(&Param{
		Name: "SSLKeyFile", Where: ips | N4, Group: "SSL", Era: "N4+", Type: "path",
		Doc:      "NSS: private-key database (key3.db).",
		Defaults: map[Where]string{N4: "key3.db"}, Example: "/opt/SUNWmsgsr/config/key3.db", Template: Commented,
	}, parsePath)

	SSLKeyPasswdFile = define(&Param{
		Name: "SSLKeyPasswdFile", Where: ips, Group: "SSL", Era: "S5+", Type: "path",
		Doc:     "File of moduleName:password lines; the Internal (Software) Token password unlocks an encrypted key.",
		Example: "sslpassword.conf", Template: Commented,
	}, parsePath)

	SSLKeyPasswd = define(&Param{
		Name: "SSLKeyPasswd", Where: N4, Group: "SSL", Era: "N4", Type: "password",
		Doc: "Netscape: the key password itself (Sun 6 reads it from SSLKeyPasswdFile).", Secret: true,
	}, parseString)

	SSLSecmodFile = define(&Param{
		Name: "SSLSecmodFile", Where: ips | N4, Group: "SSL", Era: "N4+", Type: "path",
		Doc:     "NSS: security-module database describing hardware accelerators.",
		Example: "/opt/SUNWmsgsr/config/secmod.db", Template: Commented,
	}, parsePath)

	SSLCipherSpecs = define(&Param{
		Name: "SSLCipherSpecs", Aliases: []string{"SSLCipherSecs"}, Where: ips | N4, Group: "SSL", Era: "N4+",
		Type: "all | name:name:...", Doc: "Permitted TLS 1.2 ciphers; all means Go's secure defaults. Insecure Netscape names (RC4, DES, NULL ...) are dropped with a warning naming the suites used instead.",
		Default: "all", Template: Commented,
	}, parseCiphers)

	SSLKeyExchangeGroups = define(&Param{
		Name: "SSLKeyExchangeGroups", Where: ips, Group: "SSL", Era: "Go", Type: "default | group ...",
		Doc: "TLS key exchange groups allowed towards clients and, with SSLBacksidePort, the stores: X25519MLKEM768, SecP256r1MLKEM768, " +
			"SecP384r1MLKEM1024, X25519, P256, P384, P521 (OpenSSL names such as prime256v1 or P-384 are accepted). default is Go's list, " +
			"hybrid post-quantum X25519MLKEM768 first, the secure choice; Go picks from the allowed groups in its own order, not the list's.",
		Default: "default", Example: "X25519MLKEM768 X25519 P256 P384", Template: Commented,
	}, parseGroups)

	SSLCertPEM = define(&Param{
		Name: "SSLCertPEM", Where: ips, Group: "SSL", Era: "Go", Type: "path ...",
		Doc:     "PEM certificate chain files offered to clients (several: chosen by SNI).",
		Example: "/etc/openmmp/mmp.crt", Template: Commented,
	}, parseWords)

	SSLKeyPEM = define(&Param{
		Name: "SSLKeyPEM", Where: ips, Group: "SSL", Era: "Go", Type: "path ...",
		Doc:     "PEM private keys, one per SSLCertPEM file; an encrypted key is opened with SSLKeyPasswdFile.",
		Example: "/etc/openmmp/mmp.key", Template: Commented,
	}, parseWords)

	SSLClientCAPEM = define(&Param{
		Name: "SSLClientCAPEM", Where: ips, Group: "SSL", Era: "Go", Type: "path",
		Doc:     "PEM CA certificates that client certificates must chain to (certificate login).",
		Example: "/etc/openmmp/client-ca.pem", Template: Commented,
	}, parsePath)
)

// §2.9 Netscape 4.x parameters with no Sun 6 name of their own. The
// Netscape front ends translate them (docs/reference.md §7.26–7.28).
var (
	LDAPHost = define(&Param{
		Name: "LDAPHost", Where: N4, Group: "Netscape", Era: "N4", Type: "host[:port]",
		Doc: "Netscape: directory server; with BaseDN it makes LdapUrl.", Default: "localhost:389", Flag: "-h",
	}, parseLDAPHost)

	BaseDN = define(&Param{
		Name: "BaseDN", Where: N4, Group: "Netscape", Era: "N4", Type: "DN",
		Doc: "Netscape: search base; with LDAPHost it makes LdapUrl.", Default: "o=mcom.com", Flag: "-b",
	}, parseDN)

	LDAPAuth = define(&Param{
		Name: "LDAPAuth", Where: N4, Group: "Netscape", Era: "N4", Type: "y|n",
		Doc: "Netscape installer: bind as BindDN (implied by setting BindDN).", Default: "n",
	}, parseBool)

	ListenPort = define(&Param{
		Name: "ListenPort", Where: N4, Group: "Netscape", Era: "N4", Type: "[IP:]port",
		Doc:      "Netscape: address the proxy listens on.",
		Defaults: map[Where]string{I | N4: "143", P | N4: "110", S | N4: "25"}, Default: "143", Flag: "-p",
	}, parsePortSpec)

	SSLListenPort = define(&Param{
		Name: "SSLListenPort", Where: N4, Group: "Netscape", Era: "N4", Type: "[IP:]port",
		Doc:      "Netscape: SSL address the proxy listens on when SSLEnable is set.",
		Defaults: map[Where]string{I | N4: "993", P | N4: "995", S | N4: "465"}, Default: "993", Flag: "-ps",
	}, parsePortSpec)
)
