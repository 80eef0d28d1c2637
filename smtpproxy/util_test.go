package smtpproxy_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"time"
)

func netLookupAddr(ip string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	names, err := net.DefaultResolver.LookupAddr(ctx, ip)
	for i := range names {
		names[i] = strings.TrimSuffix(names[i], ".")
	}
	return names, err
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }
