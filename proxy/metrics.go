package proxy

// BadGuys is the number of client addresses in the service's BadGuys
// table, for the metrics.
func (s *Server) BadGuys() int { return s.guards.badGuys.Len() }

// refusalReason names an admission refusal for the metrics by its text,
// which admit gives: TCPAccess says "Access denied", the connection
// limit everything else.
func refusalReason(refusal string) string {
	if refusal == "Access denied" {
		return "tcpaccess"
	}
	return "connlimits"
}
