// Package setup is mmp-setup, the installer dialogue of the Netscape
// Messaging Multiplexor (Netscape Messaging Server 4.1 Administrator's
// Guide, ch. 13: "Creating a Multiplexor Instance (Unix)" and Table 13.7
// "Multiplexor configuration prompts"; docs/reference.md §6), which creates an MMP
// instance or changes one. It writes Sun 6 style instances by default
// (AService.cfg and the per-service *AService.cfg files, docs/reference.md §3.1) and
// Netscape 4.x ones with --n4 (ImapMMP.config, PopMMP.config and their
// start scripts, docs/reference.md §3.12).
//
// Typical usage (cmd/mmp-setup is one line):
//
//	os.Exit(setup.Main(os.Args[1:]))
//
//	mmp-setup                              # on a terminal: survey prompts
//	mmp-setup < answers.txt                # plain line prompts, for scripts
//	mmp-setup --answers site.properties    # silent install
//	mmp-setup --write-answers site.properties [--with-passwords]
//
// # The dialogue
//
// The questions follow the Netscape installer: run-as user, installation
// directory, new or existing instance, instance name, service (1 IMAP,
// 2 POP3, 3 both, and 4 adding the SMTP submission proxy of Sun 5.2, with
// its relays, proxy password and POP-before-SMTP channel), then Table
// 13.7 in order, in the guide's wording where it survives: LDAP Host, Base
// DN, LogDir, Log Level, bind as someone in particular, Number of
// Threads, the listen and store ports of each proxy, the overrides
// (CAPABILITY, banner, LDAP search string, auth replay attribute, mailhost
// attributes), virtual domain mapping (optionally adding a domain to the
// vdmap file), delimiters, the POP3 spoof message, the Server Down Alert,
// SSL for each proxy. The guide breaks off in the SSL prompts; the rest is
// the reconstruction of docs/reference.md §6 items 23.2-24, asking for the PEM files Go
// reads (SSLCertPEM, SSLKeyPEM, a key password kept in sslpassword.conf)
// instead of the NSS databases, then certificate login (SSLClientCAPEM,
// StoreAdmin, StoreAdminPass, CertmapFile, optionally a certmap.conf with
// a default map) and PreAuth. A summary of the answers follows, passwords
// masked; y accepts it, n goes through the prompts again with the answers
// as defaults. Before anything is written, mmp-setup offers to test the
// LDAP settings (connect, bind, read the base DN) and, if that fails,
// writes only on the user's word.
//
// Every answer is validated with the grammar of the parameter it sets, from
// package param (param.Lookup(name).Check), and its default is that
// parameter's default in the context being written (DefaultFor): Sun 6
// defaults, or the Netscape ones with --n4. A question never restates what
// the table says.
//
// # Three ways to answer, one result
//
// A Prompter asks the questions. On a terminal it is survey (the only
// importer of survey is prompt_survey.go): defaults shown, each answer
// checked as it is typed, passwords hidden. When standard input is not a
// terminal the questions are plain lines and one line is read per answer,
// an empty line taking the default and the end of input before the end of
// the dialogue being an error. With --answers the answers come from a
// properties file. All three feed the same dialogue, so the same answers
// give byte-identical files.
//
// # Answers files
//
// An answers file is a Java properties file (magiconair/properties, with
// ${} expansion off) of the keys below. A key left out takes its default;
// a y/n key may be left out when a key it leads to is given (bind.dn alone
// means bind = y); an unknown key or an invalid value is an error, since
// nothing can be asked again. The *.custom keys answer "Would you like to
// override X"; n puts the parameter back to its default. --write-answers
// records the accepted answers of any run in this format, without the
// passwords unless --with-passwords is given.
//
//	KEY                    ASKED WHEN                      VALUE
//	user                   always                          BeTheUser, default nobody; asked again for an instance run by another user
//	root                   always                          absolute path, default /opt/openmmp
//	mode                   instances exist under root      new or modify, default new
//	instance               always                          directory name under root, default the host name
//	service                always                          imap, pop, imap+pop or imap+pop+smtp (or 1-4), default imap+pop
//	smtp.relays            service has smtp                SmtpRelays
//	smtp.password          service has smtp                SmtpProxyPassword
//	smtp.channel           service has smtp                PopBeforeSmtpKludgeChannel, default none
//	bindir                 --n4                            absolute path, default root/bin
//	ldap.host              always                          host[:port] ..., default localhost:389
//	ldap.basedn            always                          DN, default o=internet (--n4: o=mcom.com)
//	logdir                 always                          LogDir, default log (--n4: .)
//	loglevel               always                          LogLevel 0-10, default 1
//	bind                   always                          y/n, default n (anonymous)
//	bind.dn                bind                            BindDN
//	bind.password          bind                            BindPass
//	threads                always                          NumThreads, default 1 (--n4: 0)
//	imap.port.custom       service has imap                y/n, default n
//	imap.port              imap.port.custom                [IP:]port[|...], default 143
//	imap.storeport.custom  service has imap                y/n, default n
//	imap.storeport         imap.storeport.custom           port (BacksidePort), default 143
//	pop.port.custom        service has pop                 y/n, default n
//	pop.port               pop.port.custom                 [IP:]port[|...], default 110
//	pop.storeport.custom   service has pop                 y/n, default n
//	pop.storeport          pop.storeport.custom            port (BacksidePort), default 110
//	smtp.port.custom       service has smtp                y/n, default n
//	smtp.port              smtp.port.custom                [IP:]port[|...], default 25
//	capability.custom      service has imap                y/n, default n
//	capability             capability.custom               Capability
//	banner.custom          always                          y/n, default n
//	banner                 banner.custom                   Banner
//	search.custom          always                          y/n, default n
//	search                 search.custom                   SearchFormat
//	replay.custom          ReplayFormat is %U or %A[attr]  y/n, default n
//	replay.attr            replay.custom                   attribute (UidAttr, written as ReplayFormat %A[attr])
//	mailhost.custom        always                          y/n, default n
//	mailhost               mailhost.custom                 MailHostAttrs
//	vdmap                  always                          y/n, default n
//	vdmap.file             vdmap                           VirtualDomainFile, default vdmap.cfg
//	vdmap.create           vdmap                           y/n, default y when the file does not exist
//	vdmap.name             vdmap.create                    word
//	vdmap.ip               vdmap.create                    IP address
//	vdmap.domain           vdmap.create                    DefaultDomain
//	delims.custom          always                          y/n, default n
//	delims                 delims.custom                   VirtualDomainDelim
//	canonical.custom       always                          y/n, default n
//	canonical              canonical.custom                CanonicalVirtualDomainDelim
//	spoof                  service has pop                 y/n, default n
//	spoof.file             spoof                           SpoofMessageFile, default spoof.txt
//	alert.custom           service has imap                y/n, default n
//	alert                  alert.custom                    ServerDownAlert
//	imap.ssl               service has imap                y/n, default n
//	imap.sslport.custom    imap.ssl                        y/n, default n
//	imap.sslport           imap.sslport.custom             [IP:]port[|...], default 993
//	pop.ssl                service has pop                 y/n, default n
//	pop.sslport.custom     pop.ssl                         y/n, default n
//	pop.sslport            pop.sslport.custom              [IP:]port[|...], default 995
//	smtp.ssl               service has smtp                y/n, default n
//	smtp.sslport.custom    smtp.ssl                        y/n, default n
//	smtp.sslport           smtp.sslport.custom             [IP:]port[|...], default 465
//	ssl.cert               any *.ssl                       SSLCertPEM, default /etc/openmmp/mmp.crt
//	ssl.key                any *.ssl                       SSLKeyPEM, default /etc/openmmp/mmp.key
//	ssl.encrypted          any *.ssl                       y/n, default n
//	ssl.keypass            ssl.encrypted                   written to sslpassword.conf (SSLKeyPasswdFile)
//	certlogin              any *.ssl                       y/n, default n
//	certlogin.ca           certlogin                       SSLClientCAPEM
//	storeadmin             certlogin                       StoreAdmin, default mmpstore
//	storeadmin.password    certlogin                       StoreAdminPass
//	certmap.file           certlogin                       CertmapFile, default certmap.conf
//	certmap.create         certlogin                       y/n, default y when the file does not exist
//	certmap.filter         certmap.create                  comma list, default uid
//	preauth                always                          y/n, default n
//	confirm                always                          y/n, default y; n in an answers file cancels
//	ldap.test              always                          y/n, default y
//	ldap.ignore            the LDAP test failed            y/n, default n: ask again (answers file: cancel)
//
// # Files
//
// A new instance directory, root/instance, gets AService.cfg (ServiceList
// made of the service choice and the ports, NumThreads, BeTheUser, LogDir,
// LogLevel) and one *AService.cfg per service, each made from its
// template (config.Template) and then edited with cfgfmt.File.Set so that
// the answers replace the template's values: LDAP Host and Base DN become
// LdapUrl, the search string SearchFormat, the auth replay attribute
// ReplayFormat %A[attr], the bind password BindPass (docs/reference.md §7.26-7.28).
// With --n4 it gets ImapMMP.config/PopMMP.config (SmtpMMP.config for the
// SMTP front end) in Netscape names (and BeTheUser for the run-as user,
// which the front end switches to once its ports are open), written with
// cfgfmt's shell-fragment model, and ImapMMP/PopMMP scripts that source
// them and exec the front end. An existing instance keeps its own kind of files and is edited in
// place: only the settings whose answers changed are touched, so comments,
// blank lines, unrelated settings, the module paths of ServiceList and the
// spelling of unchanged values survive.
//
// Afterwards mmp-setup loads the instance as the daemon will (config.Load,
// or config.LoadFrontEnd for Netscape files), prints every problem, and
// says how to start the instance.
//
// # Exit status
//
// ExitOK (0) written and clean; ExitProblems (1) written, but the check
// found errors; ExitUsage (2) bad command line or answers, end of input;
// ExitCancelled (3) cancelled, nothing written.
package setup
