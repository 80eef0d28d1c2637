package cfgfmt

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// RedisURL is the value of FleetRedis (docs/reference.md §2.1): the Redis
// (or Valkey) servers that the MMPs of a fleet share their abuse state
// through. One of three forms, each with an optional user and password
// and TLS by the scheme's "s":
//
//	redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]                 one server
//	rediss://...                                               the same over TLS
//	redis-sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]
//	rediss-sentinel://...                                      Sentinel: the master named MASTER
//	redis-cluster://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]
//	rediss-cluster://...                                       Cluster: the seed nodes
//
// The port defaults to 6379, or 26379 for a Sentinel. The password is the
// one of the data servers (AUTH); a Sentinel is asked with the same one.
// Percent-escapes are allowed in USER, PASSWORD and MASTER.
type RedisURL struct {
	Mode     string   // "single", "sentinel" or "cluster"; "" when unset
	TLS      bool     // rediss…
	Addrs    []string // host:port, at least one
	User     string   // "" for the default user
	Password string   // "" for none
	Master   string   // Sentinel's master name
	DB       int      // database number (not in Cluster)
}

// Set reports whether a URL was given.
func (u RedisURL) Set() bool { return u.Mode != "" }

// String gives the URL without its password, for log lines and listings.
func (u RedisURL) String() string {
	if !u.Set() {
		return ""
	}
	scheme := "redis"
	if u.TLS {
		scheme = "rediss"
	}
	if u.Mode != "single" {
		scheme += "-" + u.Mode
	}
	var b strings.Builder
	b.WriteString(scheme + "://")
	if u.User != "" || u.Password != "" {
		b.WriteString(url.PathEscape(u.User))
		if u.Password != "" {
			b.WriteString(":***")
		}
		b.WriteString("@")
	}
	b.WriteString(strings.Join(u.Addrs, ","))
	if u.Master != "" {
		b.WriteString("/" + url.PathEscape(u.Master))
	}
	if u.DB != 0 {
		fmt.Fprintf(&b, "/%d", u.DB)
	}
	return b.String()
}

// ParseRedisURL reads a FleetRedis value; "" is an unset one.
func ParseRedisURL(s string) (RedisURL, error) {
	s = strings.TrimSpace(s)
	var u RedisURL
	if s == "" {
		return u, nil
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return u, fmt.Errorf("%q is not a redis:// URL", s)
	}
	defPort := "6379"
	switch strings.ToLower(scheme) {
	case "redis":
		u.Mode = "single"
	case "rediss":
		u.Mode, u.TLS = "single", true
	case "redis-sentinel":
		u.Mode, defPort = "sentinel", "26379"
	case "rediss-sentinel":
		u.Mode, u.TLS, defPort = "sentinel", true, "26379"
	case "redis-cluster":
		u.Mode = "cluster"
	case "rediss-cluster":
		u.Mode, u.TLS = "cluster", true
	default:
		return RedisURL{}, fmt.Errorf("%q: the scheme must be redis, rediss, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster", s)
	}
	if strings.ContainsAny(rest, "?#") {
		return RedisURL{}, fmt.Errorf("%q: no query or fragment is allowed", s)
	}
	// The password may hold any character escaped; the last "@" ends it.
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, pass, hasPass := strings.Cut(rest[:at], ":")
		var err error
		if u.User, err = url.PathUnescape(user); err != nil {
			return RedisURL{}, fmt.Errorf("redis URL: bad escape in the user")
		}
		if hasPass {
			if u.Password, err = url.PathUnescape(pass); err != nil {
				return RedisURL{}, fmt.Errorf("redis URL: bad escape in the password")
			}
		}
		rest = rest[at+1:]
	}
	hosts, path, _ := strings.Cut(rest, "/")
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			return RedisURL{}, fmt.Errorf("%s: an empty host", u.String())
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = strings.Trim(h, "[]"), defPort
		}
		if host == "" || strings.ContainsAny(host, " []") {
			return RedisURL{}, fmt.Errorf("%q is not a host or host:port", h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return RedisURL{}, fmt.Errorf("%q: the port must be 1 to 65535", h)
		}
		u.Addrs = append(u.Addrs, net.JoinHostPort(host, port))
	}
	if len(u.Addrs) > 1 && u.Mode == "single" {
		return RedisURL{}, fmt.Errorf("%s: several hosts need redis-sentinel:// or redis-cluster://", u.String())
	}
	var segs []string
	if path != "" {
		segs = strings.Split(path, "/")
	}
	if u.Mode == "sentinel" {
		if len(segs) == 0 || segs[0] == "" {
			return RedisURL{}, fmt.Errorf("%s: a Sentinel URL names its master: redis-sentinel://HOST:PORT/MASTER", u.String())
		}
		m, err := url.PathUnescape(segs[0])
		if err != nil {
			return RedisURL{}, fmt.Errorf("redis URL: bad escape in the master name")
		}
		u.Master, segs = m, segs[1:]
	}
	switch {
	case len(segs) == 0 || (len(segs) == 1 && segs[0] == ""):
	case len(segs) == 1 && u.Mode != "cluster":
		db, err := strconv.Atoi(segs[0])
		if err != nil || db < 0 || db > 1<<20 {
			return RedisURL{}, fmt.Errorf("%s: %q is not a database number", u.String(), segs[0])
		}
		u.DB = db
	default:
		return RedisURL{}, fmt.Errorf("%s: unexpected path /%s", u.String(), path)
	}
	return u, nil
}
