package proxy

// BadGuys is the number of client addresses in the service's BadGuys
// table, for the metrics.
func (s *Server) BadGuys() int { return s.guards.badGuys.Len() }
